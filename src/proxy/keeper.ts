/**
 * fd passing for streams that need a process to outlive them (an Incus proxy device must be
 * removed when the stream ends). ssh with ProxyUseFdpass waits for its ProxyCommand to exit, so
 * that process cannot stay and relay: it hands ssh one end of a socketpair and leaves a detached
 * `burrow proxy --pump` (the keeper) relaying between the other end and the stream.
 */
import * as libc from '../core/ffi/libc'
import { logger } from '../core/log'
import { selfArgv } from '../core/self'
import { handOver } from '../core/socket'

/** set in the keeper: its parent exits at once, which must not end it (PR_SET_PDEATHSIG) */
export const KEEPER_ENV = 'BURROW_KEEPER'

export function handOverToKeeper(host: string, port: string, wait?: string): void {
  const [mine, theirs] = libc.socketpair()
  try {
    const argv = [...selfArgv(), 'proxy', '--pump', ...(wait ? ['-w', wait] : []), host, port]
    const child = Bun.spawn(argv, {
      stdio: [theirs, theirs, 'inherit'],
      env: { ...process.env, [KEEPER_ENV]: '1' },
    })
    child.unref()
    handOver(mine)
    logger.debug(`passed a socketpair for ${host} to ssh; keeper ${child.pid} relays`)
  } finally {
    libc.close(mine)
    libc.close(theirs)
  }
}
