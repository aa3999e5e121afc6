/**
 * A minimal etcd v3 client over the JSON gateway that etcd ≥ 3.4 serves on its client port
 * (`POST /v3/kv/range` etc., keys and values base64, int64s as strings), so route needs no gRPC
 * stack. Endpoints are tried in order; a network failure moves on to the next one.
 */
import { readFileSync } from 'node:fs'

export class EtcdUnavailable extends Error {
  override name = 'EtcdUnavailable'
}

export interface EtcdOptions {
  endpoints: string[]
  tls?: { cafile?: string; certfile?: string; keyfile?: string }
  username?: string
  password?: string
  /** per request; sshproxy dials with 2 s */
  timeoutMs?: number
}

export interface KV {
  key: string
  value: string
}

const b64 = (s: string) => Buffer.from(s).toString('base64')
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString()

/** base64 of the first key after every key starting with `prefix` (etcd's range_end). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix)
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      bytes[i]! += 1
      return bytes.subarray(0, i + 1).toString('base64')
    }
  }
  return 'AA=='
}

export class EtcdClient {
  #token?: string
  #tls?: { ca?: string; cert?: string; key?: string }
  #current = 0

  constructor(readonly opts: EtcdOptions) {
    const t = opts.tls
    if (t && (t.cafile || t.certfile || t.keyfile)) {
      const read = (f?: string) => (f ? readFileSync(f, 'utf8') : undefined)
      this.#tls = { ca: read(t.cafile), cert: read(t.certfile), key: read(t.keyfile) }
    }
  }

  async #post(endpoint: string, path: string, body: unknown, auth: boolean): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (auth && this.#token) headers.authorization = this.#token
    return fetch(`${endpoint.replace(/\/+$/, '')}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 2000),
      ...(this.#tls ? { tls: this.#tls } : {}),
    } as RequestInit)
  }

  async #authenticate(endpoint: string): Promise<void> {
    const r = await this.#post(
      endpoint,
      '/v3/auth/authenticate',
      { name: this.opts.username, password: this.opts.password },
      false,
    )
    const j = (await r.json()) as { token?: string; error?: string; message?: string }
    if (!r.ok || !j.token)
      throw new Error(
        `etcd authentication as '${this.opts.username}' failed: ${j.message ?? j.error ?? r.status}`,
      )
    this.#token = j.token
  }

  /** POSTs to the first endpoint that answers; HTTP errors from etcd are thrown as Error. */
  async call<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    const eps = this.opts.endpoints
    let lastErr: unknown
    for (let n = 0; n < eps.length; n++) {
      const endpoint = eps[(this.#current + n) % eps.length]!
      try {
        if (this.opts.username && !this.#token) await this.#authenticate(endpoint)
        let r = await this.#post(endpoint, path, body, true)
        if (r.status === 401 && this.opts.username) {
          await this.#authenticate(endpoint)
          r = await this.#post(endpoint, path, body, true)
        }
        const j = (await r.json()) as T & { error?: string; message?: string }
        if (!r.ok) throw new Error(`etcd ${path}: ${j.message ?? j.error ?? `HTTP ${r.status}`}`)
        this.#current = (this.#current + n) % eps.length
        return j
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('etcd ')) throw err
        lastErr = err
      }
    }
    throw new EtcdUnavailable(
      `no etcd endpoint answered (${eps.join(', ')}): ${(lastErr as Error)?.message ?? lastErr}`,
    )
  }

  async put(key: string, value: string, lease?: string): Promise<void> {
    await this.call('/v3/kv/put', { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) })
  }

  async get(key: string): Promise<string | undefined> {
    const r = await this.call<{ kvs?: { value?: string }[] }>('/v3/kv/range', { key: b64(key) })
    return r.kvs?.[0] ? unb64(r.kvs[0].value) : undefined
  }

  async range(prefix: string): Promise<KV[]> {
    const r = await this.call<{ kvs?: { key: string; value?: string }[] }>('/v3/kv/range', {
      key: b64(prefix),
      range_end: prefixEnd(prefix),
    })
    return (r.kvs ?? []).map((kv) => ({ key: unb64(kv.key), value: unb64(kv.value) }))
  }

  /** Deletes `key`, or every key under it when `prefix`; returns how many. */
  async delete(key: string, prefix = false): Promise<number> {
    const r = await this.call<{ deleted?: string }>('/v3/kv/deleterange', {
      key: b64(key),
      ...(prefix ? { range_end: prefixEnd(key) } : {}),
    })
    return Number(r.deleted ?? 0)
  }

  /** A lease id (int64, kept as a decimal string). */
  async grant(ttlSeconds: number): Promise<string> {
    const r = await this.call<{ ID: string }>('/v3/lease/grant', { TTL: String(ttlSeconds) })
    return r.ID
  }

  /** Remaining TTL after the refresh; 0 when the lease no longer exists. */
  async keepalive(lease: string): Promise<number> {
    const r = await this.call<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: lease })
    return Number(r.result?.TTL ?? 0)
  }

  async revoke(lease: string): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: lease })
  }

  async status(): Promise<void> {
    await this.call('/v3/maintenance/status', {})
  }
}
