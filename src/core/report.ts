/** The one place an error reaches the user: one line on stderr, exit status 1. No citty here. */
import { isBurrowError } from './errors'
import * as libc from './ffi/libc'
import { logger } from './log'

/** stderr through libc (node:fs costs ~2 ms of every proxy start); a closed stderr leaves the exit status */
function say(line: string): void {
  try {
    libc.writeAll(2, line)
  } catch {}
}

export function report(err: unknown, argv: string[]): number {
  // by name too: serve and route carry their own copy of BurrowError (src/commands/index.ts)
  if (isBurrowError(err) || (err instanceof Error && err.name === 'BurrowError')) {
    say(`burrow: ${err.message}\n`)
  } else if (err instanceof Error && err.name === 'CLIError') {
    const cmd = argv.find((a) => !a.startsWith('-'))
    const help = cmd ? `burrow ${cmd} --help` : 'burrow --help'
    say(`burrow: ${err.message.replace(/\x1b\[[0-9;]*m/g, '')} (see '${help}')\n`)
  } else {
    say(
      `burrow: unexpected error: ${err instanceof Error ? err.message : String(err)} (rerun with BURROW_DEBUG=1 and report it)\n`,
    )
  }
  logger.debug(err)
  return 1
}
