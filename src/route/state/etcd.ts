/**
 * State in etcd, shared by every gateway. Key components are URI-encoded and every prefix ends
 * in `/`, so scanning user `al` never returns `alice` (sshproxy's prefixes had no separator).
 *
 *   <prefix>connections/<user>/<service>/<dest>/<sid>  Connection JSON, session lease
 *   <prefix>hosts/<dest>                               {state, ts}
 *   <prefix>disabled/<dest>                            "1"
 *   <prefix>sticky/<user>/<service>                    {dest, expire}, lease = sticky_ttl
 *   <prefix>banner                                     {text, expire}, lease until expire
 */
import { logger } from '../../core/log'
import { EtcdClient, type EtcdOptions } from './etcd-client'
import type {
  Banner,
  Check,
  Connection,
  ConnectionFilter,
  HostState,
  Registration,
  State,
  Sticky,
} from './types'

const enc = encodeURIComponent
/** a key someone else wrote may not be valid URI encoding */
const decodeUri = (s: string) => {
  try {
    return globalThis.decodeURIComponent(s)
  } catch {
    return s
  }
}

type Guard<T> = (v: unknown) => v is T
const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const isConn: Guard<Connection> = (v): v is Connection =>
  obj(v) && typeof v.user === 'string' && typeof v.dest === 'string' && typeof v.start === 'number'
const isCheck: Guard<{ state: Check; ts: number }> = (v): v is { state: Check; ts: number } =>
  obj(v) &&
  (v.state === 'up' || v.state === 'down' || v.state === 'unknown') &&
  typeof v.ts === 'number'
const isSticky: Guard<{ dest: string; expire: number }> = (
  v,
): v is { dest: string; expire: number } =>
  obj(v) && typeof v.dest === 'string' && typeof v.expire === 'number'
const isBanner: Guard<Banner> = (v): v is Banner =>
  obj(v) && typeof v.text === 'string' && (v.expire === undefined || typeof v.expire === 'number')

/** Keys already reported as unreadable (with the value seen), so each is reported once. */
const reported = new Set<string>()

/**
 * A value as burrow wrote it, or undefined (with one warning per key and value) when someone
 * wrote something else there: one bad key must not stop every session.
 */
function read<T>(key: string, value: string, ok: Guard<T>): T | undefined {
  try {
    const v = JSON.parse(value) as unknown
    if (ok(v)) return v
  } catch {}
  const mark = `${key}\0${value}`
  if (!reported.has(mark)) {
    reported.add(mark)
    logger.warn(
      `skipping etcd key ${key}: its value ${JSON.stringify(value.slice(0, 60))} is not one burrow wrote`,
    )
  }
  return undefined
}
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000))

export class EtcdState implements State {
  readonly name = 'etcd'
  readonly location: string
  readonly client: EtcdClient
  readonly #timers = new Set<ReturnType<typeof setInterval>>()

  constructor(
    opts: EtcdOptions,
    readonly prefix = '/burrow/',
  ) {
    this.client = new EtcdClient(opts)
    this.location = opts.endpoints.join(',')
    if (!prefix.endsWith('/')) this.prefix = `${prefix}/`
  }

  #k(...parts: string[]): string {
    return this.prefix + parts.join('/')
  }

  #connKey(c: Pick<Connection, 'user' | 'service' | 'dest' | 'id'>): string {
    return this.#k('connections', enc(c.user), enc(c.service), enc(c.dest), c.id)
  }

  async register(c: Connection, ttlMs: number): Promise<Registration> {
    const key = this.#connKey(c)
    const value = () => JSON.stringify(c)
    let lease = await this.client.grant(seconds(ttlMs))
    await this.client.put(key, value(), lease)
    let dirty = false
    let lost = false
    let closed = false
    // Without this the key would expire while the session still runs. When etcd was away
    // long enough for the lease to lapse, the connection is registered again.
    const beat = async () => {
      try {
        if ((await this.client.keepalive(lease)) === 0) {
          lease = await this.client.grant(seconds(ttlMs))
          dirty = true
        }
        if (dirty && !closed) {
          await this.client.put(key, value(), lease)
          dirty = false
        }
        if (lost) logger.debug(`etcd is back; connection ${c.id} registered again`)
        lost = false
      } catch (err) {
        if (!lost)
          logger.debug(`Failed to keep connection ${c.id} alive in etcd: ${(err as Error).message}`)
        lost = true
      }
    }
    let running = Promise.resolve()
    const timer = setInterval(
      () => {
        running = running.then(beat)
      },
      Math.max(300, ttlMs / 3),
    )
    this.#timers.add(timer)
    return {
      setBandwidth: (bwIn, bwOut) => {
        if (c.bwIn !== bwIn || c.bwOut !== bwOut) dirty = true
        c.bwIn = bwIn
        c.bwOut = bwOut
      },
      close: async () => {
        closed = true
        clearInterval(timer)
        this.#timers.delete(timer)
        await running
        try {
          await this.client.revoke(lease)
        } catch (err) {
          logger.debug(
            `Failed to revoke the lease of connection ${c.id}: ${(err as Error).message} (it expires by itself)`,
          )
        }
      },
    }
  }

  async connections(filter: ConnectionFilter = {}): Promise<Connection[]> {
    let prefix = this.#k('connections', '')
    if (filter.user !== undefined) {
      prefix += `${enc(filter.user)}/`
      if (filter.service !== undefined) prefix += `${enc(filter.service)}/`
    }
    const kvs = await this.client.range(prefix)
    return kvs
      .flatMap((kv) => read(kv.key, kv.value, isConn) ?? [])
      .filter((c) => filter.service === undefined || c.service === filter.service)
      .sort((a, b) => a.start - b.start)
  }

  async hosts(): Promise<HostState[]> {
    const [checks, disabled] = await Promise.all([
      this.client.range(this.#k('hosts', '')),
      this.client.range(this.#k('disabled', '')),
    ])
    const out = new Map<string, HostState>()
    for (const kv of checks) {
      const id = decodeUri(kv.key.slice(this.#k('hosts', '').length))
      // an unreadable check is as good as none: the host is probed again
      const v = read(kv.key, kv.value, isCheck) ?? { state: 'unknown' as Check, ts: 0 }
      out.set(id, { id, state: v.state, ts: v.ts, disabled: false })
    }
    for (const kv of disabled) {
      const id = decodeUri(kv.key.slice(this.#k('disabled', '').length))
      out.set(id, { ...(out.get(id) ?? { id, state: 'unknown', ts: 0 }), disabled: true })
    }
    return [...out.values()].sort((a, b) => a.id.localeCompare(b.id))
  }

  async host(id: string): Promise<HostState | undefined> {
    const [check, disabled] = await Promise.all([
      this.client.get(this.#k('hosts', enc(id))),
      this.client.get(this.#k('disabled', enc(id))),
    ])
    if (check === undefined && disabled === undefined) return undefined
    const none = { state: 'unknown' as Check, ts: 0 }
    const v = check === undefined ? none : (read(this.#k('hosts', enc(id)), check, isCheck) ?? none)
    return { id, ...v, disabled: disabled !== undefined }
  }

  async recordCheck(id: string, state: Check, ts: number): Promise<void> {
    await this.client.put(this.#k('hosts', enc(id)), JSON.stringify({ state, ts }))
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    if (disabled) await this.client.put(this.#k('disabled', enc(id)), '1')
    else await this.client.delete(this.#k('disabled', enc(id)))
  }

  async forgetHost(id: string): Promise<void> {
    await Promise.all([
      this.client.delete(this.#k('hosts', enc(id))),
      this.client.delete(this.#k('disabled', enc(id))),
    ])
  }

  async remember(user: string, service: string, dest: string, ttlMs: number): Promise<void> {
    const lease = await this.client.grant(seconds(ttlMs))
    await this.client.put(
      this.#k('sticky', enc(user), enc(service)),
      JSON.stringify({ dest, expire: Date.now() + ttlMs }),
      lease,
    )
  }

  async recall(user: string, service: string): Promise<string | undefined> {
    const v = await this.client.get(this.#k('sticky', enc(user), enc(service)))
    if (v === undefined) return undefined
    // etcd rounds short leases up (its minimum TTL), so the stored expiry decides
    const s = read(this.#k('sticky', enc(user), enc(service)), v, isSticky)
    return s && s.expire > Date.now() ? s.dest : undefined
  }

  async sticky(): Promise<Sticky[]> {
    const base = this.#k('sticky', '')
    return (await this.client.range(base))
      .flatMap((kv) => {
        const [user = '', service = ''] = kv.key.slice(base.length).split('/').map(decodeUri)
        const v = read(kv.key, kv.value, isSticky)
        return v ? [{ user, service, dest: v.dest, expire: v.expire }] : []
      })
      .filter((s) => s.expire > Date.now())
  }

  async forgetSticky(f: { user?: string; service?: string; dest?: string }): Promise<number> {
    let n = 0
    for (const s of await this.sticky()) {
      if (
        (f.user ?? s.user) !== s.user ||
        (f.service ?? s.service) !== s.service ||
        (f.dest ?? s.dest) !== s.dest
      )
        continue
      n += await this.client.delete(this.#k('sticky', enc(s.user), enc(s.service)))
    }
    return n
  }

  async banner(): Promise<Banner | undefined> {
    const v = await this.client.get(this.#k('banner'))
    if (v === undefined) return undefined
    const b = read(this.#k('banner'), v, isBanner)
    return !b || (b.expire !== undefined && b.expire <= Date.now()) ? undefined : b
  }

  async setBanner(text: string, expire?: number): Promise<void> {
    const lease =
      expire === undefined ? undefined : await this.client.grant(seconds(expire - Date.now()))
    await this.client.put(this.#k('banner'), JSON.stringify({ text, expire }), lease)
  }

  async clearBanner(): Promise<void> {
    await this.client.delete(this.#k('banner'))
  }

  /**
   * Stops keeping the registrations alive without revoking them: a stopping state service's
   * sessions live on and register again with the next one, which takes their keys over before
   * these leases lapse (keyttl).
   */
  close(): void {
    for (const t of this.#timers) clearInterval(t)
    this.#timers.clear()
  }
}
