/**
 * Jump host: a direct-tcpip destination written as a burrow address (`vsock%4711`,
 * `qemu:system/vm`, `unix%/run/x.sock`) is opened through the backend registry on this host, so
 * `ssh -J host:2222 vsock%4711` reaches a VM here. The stream is opened by a `burrow proxy --pump`
 * child: the registry hands out blocking fds and the relay is the proxy's own (splice), and the
 * server's event loop is never blocked by a connect.
 */
import { spawn } from 'node:child_process'
import type { ServerChannel } from 'ssh2'
import type { Address } from '../../proxy/registry'
import type { Account } from '../auth/accounts'
import { selfArgv } from '../../core/self'
import { parseAddress } from '../../proxy/registry'
import { logger } from '../../core/log'

/** The burrow address in a direct-tcpip destination; undefined for plain host names (TCP). */
export function jumpAddress(host: string, port: number): Address | undefined {
  let addr: Address
  try {
    addr = parseAddress(host, String(port))
  } catch {
    return undefined
  }
  return addr.kind === 'tcp' ? undefined : addr
}

/**
 * argv that runs `argv` as the host account (policy.ts jumpAs): real and effective uid and gid,
 * and exactly the account's groups, via util-linux setpriv(1). Root runs it unchanged.
 */
export function asAccount(account: Account, argv: string[]): string[] {
  if (account.uid === 0) return argv
  return [
    'setpriv',
    `--reuid=${account.uid}`,
    `--regid=${account.gid}`,
    `--groups=${account.gids.join(',')}`,
    '--',
    ...argv,
  ]
}

/** Relays `channel` to the address through `burrow proxy --pump HOST PORT`, run as `account`. */
export function relayJump(
  channel: ServerChannel,
  host: string,
  port: number,
  account: Account,
): void {
  const [cmd, ...rest] = asAccount(account, [...selfArgv(), 'proxy', '--pump', host, String(port)])
  const child = spawn(cmd!, rest, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, HOME: account.home, USER: account.name, LOGNAME: account.name },
  })
  let err = ''
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString()
  })
  channel.pipe(child.stdin)
  child.stdout.pipe(channel)
  child.stdin.on('error', () => {})
  child.on('error', (err) => {
    logger.info(`jump to ${host} port ${port}: ${err.message}`)
    channel.destroy()
  })
  child.on('exit', (code) => {
    if (code) logger.info(`jump to ${host} port ${port}: ${err.trim() || `exit status ${code}`}`)
    channel.destroy()
  })
  channel.once('close', () => child.kill())
}
