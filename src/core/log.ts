/**
 * The one logger. consola writes info/debug to stdout by default, but proxy's stdout carries the
 * SSH stream or the passed fd, so every level goes to stderr here.
 */
import { createConsola } from 'consola/basic'

export const logger = createConsola({
  stdout: process.stderr,
  stderr: process.stderr,
  level: process.env.BURROW_DEBUG ? 4 : 3,
  formatOptions: { date: false, colors: false, compact: true },
})

export function setDebug(on: boolean): void {
  if (on) logger.level = 4
}
