/**
 * `vsock-mux/PATH` and `vsock-mux%PATH`: a VM's vsock port reached through the AF_UNIX socket of
 * Firecracker or cloud-hypervisor ("hybrid vsock"). Opens with the unix backend, then handshakes.
 */
import { afterPrefix, formatPath, socketPath } from '../../core/address'
import type { Backend } from '../../proxy/backend'
import { FdStream } from '../../core/stream'
import * as libc from '../../core/ffi/libc'
import { logger } from '../../core/log'
import { connectUnix } from '../unix'
import { parseVsockPort } from '../vsock'
import { muxHandshake, type MuxOutcome } from './handshake'

export interface MuxAddress {
  kind: 'vsock-mux'
  path: string
  port: number
}

const outcomes: Record<MuxOutcome, string> = {
  ok: 'consumed the OK line',
  'no-ok': 'no OK line; passing every byte on',
  'no-reply': 'no reply in time; passing the stream on untouched (ssh skips a late OK line)',
}

export const backend: Backend<MuxAddress> = {
  kind: 'vsock-mux',
  prefixes: ['vsock-mux'],
  usage: 'vsock-mux/PATH',
  hostKeys: 'throwaway',
  port: 'vsock',
  portSuffix: true,
  parse(host, port) {
    const rest = afterPrefix(host, 'vsock-mux')
    if (rest === undefined) return undefined
    return { kind: 'vsock-mux', path: socketPath('vsock-mux', rest), port: parseVsockPort(port) }
  },
  format: (addr) => `${formatPath('vsock-mux', addr.path)} ${addr.port}`,
  async open(addr, opts) {
    const fd = connectUnix(addr.path, opts.timeoutMs)
    try {
      const outcome = muxHandshake(fd, addr.port, addr.path, opts.timeoutMs)
      logger.debug(`vsock-mux ${addr.path}: ${outcomes[outcome]}`)
      return new FdStream(fd)
    } catch (err) {
      libc.close(fd)
      throw err
    }
  },
}
