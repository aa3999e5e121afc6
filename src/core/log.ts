/**
 * The one logger. consola writes info/debug to stdout by default, but proxy's stdout carries the
 * SSH stream or the passed fd, so every level goes to stderr here. consola costs ~5 ms to load,
 * more than the rest of `burrow proxy` start-up, so it is only loaded for a message that will show.
 */
import type { ConsolaInstance } from 'consola'

/**
 * One state per process, even though `serve` and `route` are separate entrypoints of the
 * compiled binary with their own copy of this module (see src/commands/index.ts).
 */
const state: { level: number; instance?: ConsolaInstance } = ((
  globalThis as Record<symbol, unknown>
)[Symbol.for('burrow.log')] ??= { level: process.env.BURROW_DEBUG ? 4 : 3 }) as never

function consola(): ConsolaInstance {
  if (!state.instance) {
    // require, not import: the bundler then evaluates consola on first use only
    const { createConsola } = require('consola/basic') as typeof import('consola/basic')
    state.instance = createConsola({
      stdout: process.stderr,
      stderr: process.stderr,
      level: state.level,
      formatOptions: { date: false, colors: false, compact: true },
    })
  }
  return state.instance
}

type Log = (message: unknown, ...args: unknown[]) => void
const at =
  (min: number, name: 'error' | 'warn' | 'info' | 'success' | 'debug'): Log =>
  (message, ...args) => {
    if (state.level >= min) consola()[name](message, ...args)
  }

export const logger = {
  error: at(0, 'error'),
  warn: at(1, 'warn'),
  info: at(3, 'info'),
  success: at(3, 'success'),
  debug: at(4, 'debug'),
}

export function setDebug(on: boolean): void {
  if (!on) return
  state.level = 4
  if (state.instance) state.instance.level = 4
}

export function isDebug(): boolean {
  return state.level >= 4
}
