/**
 * Jump host: a direct-tcpip destination written as a burrow address (`vsock%4711`,
 * `qemu:system/vm`, `unix%/run/x.sock`) is opened through the backend registry on this host, so
 * `ssh -J host:2222 vsock%4711` reaches a VM here. The stream is opened by a `burrow proxy --pump`
 * child: the registry hands out blocking fds and the relay is the proxy's own (splice), and the
 * server's event loop is never blocked by a connect.
 */
import { spawn } from 'node:child_process'
import type { ServerChannel } from 'ssh2'
import type { Address } from '../core/address'
import { selfArgv } from '../core/self'
import { parseAddress } from '../core/registry'
import { logger } from '../core/log'

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

/** Relays `channel` to the address through `burrow proxy --pump HOST PORT`. */
export function relayJump(channel: ServerChannel, host: string, port: number): void {
  const [cmd, ...pre] = selfArgv()
  const child = spawn(cmd!, [...pre, 'proxy', '--pump', host, String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let err = ''
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString()
  })
  channel.pipe(child.stdin)
  child.stdout.pipe(channel)
  child.stdin.on('error', () => {})
  child.on('exit', (code) => {
    if (code) logger.info(`jump to ${host} port ${port}: ${err.trim() || `exit status ${code}`}`)
    channel.destroy()
  })
  channel.once('close', () => child.kill())
}
