/** The one place an error reaches the user: one line on stderr, exit status 1. No citty here. */
import { writeSync } from 'node:fs'
import { isBurrowError } from './errors'
import { logger } from './log'

export function report(err: unknown, argv: string[]): number {
  // by name too: serve and route carry their own copy of BurrowError (src/commands/index.ts)
  if (isBurrowError(err) || (err instanceof Error && err.name === 'BurrowError')) {
    writeSync(2, `burrow: ${err.message}\n`)
  } else if (err instanceof Error && err.name === 'CLIError') {
    const cmd = argv.find((a) => !a.startsWith('-'))
    const help = cmd ? `burrow ${cmd} --help` : 'burrow --help'
    writeSync(2, `burrow: ${err.message.replace(/\x1b\[[0-9;]*m/g, '')} (see '${help}')\n`)
  } else {
    writeSync(2, `burrow: unexpected error: ${err instanceof Error ? err.message : String(err)} (rerun with BURROW_DEBUG=1 and report it)\n`)
  }
  logger.debug(err)
  return 1
}
