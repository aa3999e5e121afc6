import type { ArgDef } from 'citty'

/** Debug logging on stderr; also BURROW_DEBUG=1. */
export const debugArgs = {
  debug: { type: 'boolean', description: 'Log what happens, on stderr' },
} as const satisfies Record<string, ArgDef>

/** HOST and PORT as OpenSSH's ProxyCommand passes them (%h %p). */
export const targetArgs = {
  host: {
    type: 'positional',
    description: 'unix/PATH, vsock/CID, vsock-mux/PATH, machine/NAME, qemu/NAME, incus/NAME, .host, or a TCP host; `%` may replace `/`',
    required: true,
  },
  port: { type: 'positional', description: 'Port (ssh %p)', default: '22', required: false },
} as const satisfies Record<string, ArgDef>

/** A positional that takes every further positional too (citty has no such flag; src/core/cli.ts reads it). */
export const variadic = <T extends object>(def: T): T & { variadic: true } => Object.assign(def, { variadic: true as const })
