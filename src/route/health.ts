/**
 * Host checks: connect and wait for the server's `SSH-` identification line, within a timeout.
 * A bare TCP connect (sshproxy's check) passes for a port that accepts and then hangs or closes
 * (a stuck sshd, a load balancer); the banner proves an sshd answers.
 */
import { EventEmitter } from 'node:events'
import net from 'node:net'
import type { Config } from './config'
import type { Dest } from './dest'
import type { Check, HostState, State } from './state/types'

export interface Probe {
  up: boolean
  /** why it is down, for logs */
  reason?: string
}

function bannerFrom(
  sock: { on: net.Socket['on']; destroy(): void },
  timeoutMs: number,
): Promise<Probe> {
  return new Promise((resolve) => {
    let buf = ''
    const done = (p: Probe) => {
      clearTimeout(timer)
      sock.destroy()
      resolve(p)
    }
    const timer = setTimeout(
      () => done({ up: false, reason: `no SSH banner within ${timeoutMs} ms` }),
      timeoutMs,
    )
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1')
      // RFC 4253 §4.2: lines before the identification string are allowed
      if (/(^|\n)SSH-/.test(buf)) done({ up: true })
      else if (buf.length > 8192) done({ up: false, reason: 'no SSH banner in the first 8 KiB' })
    })
    sock.on('error', (e: Error) => done({ up: false, reason: e.message }))
    sock.on('close', () => done({ up: false, reason: 'closed before the SSH banner' }))
  })
}

/** net.Socket({ fd }) is broken in Bun 1.4 (docs/bun.md); Bun.connect({ fd }) reads fine. */
function fdSocket(fd: number): { on: net.Socket['on']; destroy(): void } {
  const events = new EventEmitter()
  let sock: { end(): void } | undefined
  let closed = false
  ;(Bun.connect as (o: unknown) => Promise<{ end(): void }>)({
    fd,
    socket: {
      data: (_s: unknown, d: Buffer) => events.emit('data', Buffer.from(d)),
      close: () => events.emit('close'),
      error: (_s: unknown, e: Error) => events.emit('error', e),
    },
  }).then(
    (s) => (closed ? s.end() : (sock = s)),
    (e) => events.emit('error', e),
  )
  return {
    on: events.on.bind(events) as unknown as net.Socket['on'],
    destroy: () => {
      closed = true
      sock?.end()
    },
  }
}

export async function probe(dest: Dest, timeoutMs: number): Promise<Probe> {
  if (dest.address === undefined) {
    return bannerFrom(net.connect({ host: dest.host, port: dest.port }), timeoutMs)
  }
  if (dest.address.startsWith('unix/')) {
    return bannerFrom(net.connect({ path: dest.address.slice('unix'.length) }), timeoutMs)
  }
  // vsock and vsock-mux: connect the way `burrow proxy` does, then read from the fd
  try {
    const { openAddress, parseAddress } = await import('../proxy/registry')
    const stream = await openAddress(parseAddress(dest.address, String(dest.port)), { timeoutMs })
    return bannerFrom(fdSocket(stream.fd), timeoutMs)
  } catch (err) {
    return { up: false, reason: (err as Error).message }
  }
}

/**
 * Work started while a host is probed (the session's ssh). It returns how to settle it on the
 * probe's verdict: keep it (up) or undo it (down); the check returns once that is done. If the
 * check fails otherwise (storing the result), undoing is the caller's business.
 */
export type AlongsideProbe = (dest: Dest) => ((up: boolean) => Promise<void>) | undefined

/**
 * The host's state for routing: disabled hosts are skipped, a stored check younger than
 * check_interval is trusted, anything else is probed and stored.
 */
export async function checkHost(
  state: State,
  dest: Dest,
  config: Pick<Config, 'check_interval' | 'check_timeout'>,
  known?: HostState,
  alongside?: AlongsideProbe,
): Promise<Check | 'disabled'> {
  const h = known ?? (await state.host(dest.id))
  if (h?.disabled) return 'disabled'
  const now = Date.now()
  if (h && h.state !== 'unknown' && config.check_interval > 0 && now - h.ts < config.check_interval)
    return h.state
  const probing = probe(dest, config.check_timeout)
  const settle = alongside?.(dest)
  const p = await probing
  const result = p.up ? 'up' : 'down'
  // a down host's work is undone at once, while the result is stored; both end before any error
  for (const r of await Promise.allSettled([
    settle?.(p.up),
    state.recordCheck(dest.id, result, now),
  ])) {
    if (r.status === 'rejected') throw r.reason
  }
  return result
}

/** Probes every host at once and stores the results (`burrow route check`). */
export async function checkAll(
  state: State,
  dests: Dest[],
  timeoutMs: number,
): Promise<{ dest: Dest; probe: Probe }[]> {
  const hosts = new Map((await state.hosts()).map((h) => [h.id, h]))
  return Promise.all(
    dests.map(async (dest) => {
      if (hosts.get(dest.id)?.disabled) return { dest, probe: { up: false, reason: 'disabled' } }
      const p = await probe(dest, timeoutMs)
      await state.recordCheck(dest.id, p.up ? 'up' : 'down', Date.now())
      return { dest, probe: p }
    }),
  )
}
