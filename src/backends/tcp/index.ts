/**
 * Any other host: TCP to HOST:PORT, the netcat replacement for `ProxyCommand ssh gw burrow proxy
 * %h %p` on gateways without nc. IPv6 literals come bare (`::1`, as ssh's %h gives them), in
 * brackets, or with a zone (`fe80::1%eth0`).
 */
import { parsePort } from '../../core/address'
import type { Backend } from '../../proxy/backend'
import { FdStream } from '../../core/stream'
import { fail, failWith } from '../../core/errors'
import * as libc from '../../core/ffi/libc'
import { AF_INET, AF_INET6, errno, sockaddrIn, sockaddrIn6 } from '../../core/ffi/structs'
import { connectSocket } from '../../core/socket'

export interface TcpAddress {
  kind: 'tcp'
  host: string
  port: number
}

const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/
const IPV6 = /^\[?([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)(%[A-Za-z0-9_.-]+)?\]?$/

const hints = {
  [errno.ECONNREFUSED]: 'nothing listens on that port',
  [errno.ETIMEDOUT]: 'no answer: check the host and any firewall',
}

/** The socket addresses to try for `host`, literals first without any DNS. */
async function sockaddrs(host: string, port: number): Promise<[number, Uint8Array][]> {
  const v6 = IPV6.exec(host)
  if (v6) {
    const addr = libc.inetPton(AF_INET6, v6[1]!)
    if (!addr) fail(`parse IPv6 address '${host}'`, 'it is not a valid address')
    const zone = v6[2]?.slice(1)
    const scope =
      zone === undefined ? 0 : /^[0-9]+$/.test(zone) ? Number(zone) : libc.ifNameToIndex(zone)
    if (zone !== undefined && scope === 0)
      fail(`parse IPv6 address '${host}'`, `no interface named '${zone}'`)
    return [[AF_INET6, sockaddrIn6(addr, port, scope)]]
  }
  const v4 = libc.inetPton(AF_INET, host)
  if (v4) return [[AF_INET, sockaddrIn(v4, port)]]
  let found: { address: string; family: number }[]
  try {
    // loaded here, not at the top: node:dns costs ~1 ms of start-up in every other form
    const { lookup } = await import('node:dns/promises')
    found = await lookup(host, { all: true })
  } catch (err) {
    const code = (err as { code?: string }).code ?? String(err)
    fail(`resolve host name '${host}'`, `${code} (check the name, or use an IP address)`)
  }
  return found.map(({ address, family }) =>
    family === 6
      ? [AF_INET6, sockaddrIn6(libc.inetPton(AF_INET6, address)!, port)]
      : [AF_INET, sockaddrIn(libc.inetPton(AF_INET, address)!, port)],
  )
}

export const backend: Backend<TcpAddress> = {
  kind: 'tcp',
  prefixes: [],
  usage: 'HOST (TCP)',
  port: 'tcp',
  portSuffix: false,
  parse(host, port) {
    if (!HOSTNAME.test(host) && !IPV6.test(host)) return undefined
    return {
      kind: 'tcp',
      host: host.replace(/^\[(.*)\]$/, '$1'),
      port: parsePort(port, 'TCP port'),
    }
  },
  format: (addr) => `${addr.host} ${addr.port}`,
  async open(addr, opts) {
    const candidates = await sockaddrs(addr.host, addr.port)
    let last: unknown
    for (const [family, sa] of candidates) {
      try {
        return new FdStream(connectSocket(family, sa, opts.timeoutMs))
      } catch (err) {
        last = err
      }
    }
    failWith(`connect to ${addr.host} port ${addr.port}`, last, hints)
  },
}
