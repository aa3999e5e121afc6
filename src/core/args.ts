/** Argument definitions shared by several commands (citty `ArgDef`s, nuxt/cli's `_shared.ts` pattern). */
import type { ArgDef } from 'citty'

/** Debug logging on stderr; also BURROW_DEBUG=1. */
export const debugArgs = {
  debug: { type: 'boolean', description: 'Log what happens, on stderr' },
} as const satisfies Record<string, ArgDef>

/** A positional that takes every further positional too (citty has no such flag; core/cli.ts reads it). */
export const variadic = <T extends object>(def: T): T & { variadic: true } =>
  Object.assign(def, { variadic: true as const })
