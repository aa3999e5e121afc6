/**
 * `vsock-mux/PATH` and `vsock-mux%PATH`: a VM's vsock port reached through the AF_UNIX socket of
 * Firecracker or cloud-hypervisor ("hybrid vsock"). Opens with the unix backend, then handshakes.
 */
import { afterPrefix, formatPath, socketPath } from '../../core/address'
import type { Backend } from '../../core/backend'
import { FdStream } from '../../core/backend'
import * as libc from '../../core/ffi/libc'
import { connectUnix } from '../unix'
import { parseVsockPort } from '../vsock'
import { muxHandshake } from './handshake'

export const backend: Backend<'vsock-mux'> = {
  kind: 'vsock-mux',
  prefixes: ['vsock-mux'],
  usage: 'vsock-mux/PATH',
  parse(host, port) {
    const rest = afterPrefix(host, 'vsock-mux')
    if (rest === undefined) return undefined
    return { kind: 'vsock-mux', path: socketPath('vsock-mux', rest), port: parseVsockPort(port) }
  },
  format: (addr) => `${formatPath('vsock-mux', addr.path)} ${addr.port}`,
  async open(addr, opts) {
    const fd = connectUnix(addr.path, opts.timeoutMs)
    try {
      muxHandshake(fd, addr.port, addr.path, opts.timeoutMs)
      return new FdStream(fd)
    } catch (err) {
      libc.close(fd)
      throw err
    }
  },
}
