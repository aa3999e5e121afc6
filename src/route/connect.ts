/**
 * `burrow route connect HOST PORT`: the ProxyCommand `burrow route` gives the session's ssh for a
 * TCP destination. It connects, turns Nagle's algorithm off, and hands the socket to ssh
 * (ProxyUseFdpass), so ssh talks to the destination on its own socket as if it had connected.
 *
 * Why: ssh turns Nagle off only once the session channel is open. Before that it sends NEWKEYS
 * and the userauth service request as two writes, and the second waits until the destination
 * acknowledges the first, which a Linux sshd delays by up to 40 ms (it has nothing to send back).
 * ProxyJump's tunnel happens to deliver both in one write; a gateway's own ssh pays the 40 ms.
 */
import { backend as tcp } from '../backends/tcp'
import { fail } from '../core/errors'
import * as libc from '../core/ffi/libc'

const IPPROTO_TCP = 6
const TCP_NODELAY = 1

export async function runConnect(
  host: string,
  port: string,
  opts: { quiet?: boolean; timeoutMs?: number } = {},
): Promise<number> {
  // nothing to hand over once ssh is gone (stopped while its host was checked)
  libc.dieWithParent()
  try {
    const addr = tcp.parse(host, port)
    if (!addr) fail(`connect to '${host}'`, 'it is not a TCP host name or address')
    const stream = await tcp.open(addr, { timeoutMs: opts.timeoutMs })
    libc.setsockopt(stream.fd, IPPROTO_TCP, TCP_NODELAY, new Uint8Array(new Int32Array([1]).buffer))
    libc.sendFd(1, stream.fd)
    return 0
  } catch (err) {
    // a quiet ssh prints nothing for a connection that fails; its proxy neither
    if (opts.quiet) return 255
    throw err
  }
}
