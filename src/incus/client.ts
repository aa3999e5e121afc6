/**
 * The Incus REST API (https://linuxcontainers.org/incus/docs/main/rest-api/) over the local unix
 * socket or an HTTPS remote: plain requests, operations and their wait, instance state, files.
 * Bun's fetch speaks HTTP over a unix socket (`unix:`) and takes TLS client certificates.
 */
import { join } from 'node:path'
import type { TLSOptions } from 'bun'
import { BurrowError } from '../core/errors'
import { logger } from '../core/log'
import type { Endpoint } from './endpoint'
import { runtimeDir } from './owner'
import { StartTlsBridge } from './starttls'

/** An Incus API error; `code` is the HTTP status the daemon reported (404 for a missing instance). */
export class IncusError extends BurrowError {
  override name = 'IncusError'
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message)
  }
}

/** The standard response envelope (`type` sync, async or error). */
export interface ApiResponse<T = unknown> {
  type: 'sync' | 'async' | 'error'
  status_code: number
  error_code: number
  error: string
  operation: string
  metadata: T
}

export interface Operation {
  id: string
  class: 'task' | 'websocket' | 'token'
  status: string
  status_code: number
  err: string
  metadata: Record<string, unknown> | null
}

export interface RequestOptions {
  project?: string
  query?: Record<string, string>
  body?: unknown
  headers?: Record<string, string>
  /** what the caller was doing, for the error message: "get instance c1" */
  what?: string
}

export class IncusClient {
  readonly #base: string
  readonly #init: { unix?: string; tls?: TLSOptions & { checkServerIdentity?: unknown } }
  /** the plain-text socket that carries this client's requests as its certificate (starttls.ts) */
  readonly #bridge?: StartTlsBridge

  constructor(readonly endpoint: Endpoint) {
    if (endpoint.kind === 'unix' && endpoint.certificate) {
      const path = join(runtimeDir(), `incus-${endpoint.certificate.uid}-${++bridges}.sock`)
      this.#bridge = new StartTlsBridge(path, endpoint.socket, endpoint.certificate)
      this.#base = 'http://incus'
      this.#init = { unix: path }
    } else if (endpoint.kind === 'unix') {
      this.#base = 'http://incus'
      this.#init = { unix: endpoint.socket }
    } else {
      this.#base = endpoint.url
      this.#init = { tls: tlsOptions(endpoint) }
    }
  }

  /** URL and options for a WebSocket to the same daemon (`ws+unix://` works in Bun's client). */
  websocketTarget(path: string): { url: string; options: Record<string, unknown> } {
    if (this.endpoint.kind === 'unix')
      return { url: `ws+unix://${this.#init.unix}:${path}`, options: {} }
    return {
      url: `${this.#base.replace(/^https:/, 'wss:')}${path}`,
      options: { tls: this.#init.tls },
    }
  }

  path(path: string, opts: Pick<RequestOptions, 'project' | 'query'> = {}): string {
    const q = new URLSearchParams(opts.query)
    // every request names its project; `default` is what the daemon assumes anyway
    if (opts.project && opts.project !== 'default') q.set('project', opts.project)
    const qs = q.toString()
    return qs ? `${path}?${qs}` : path
  }

  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const url = `${this.#base}${this.path(path, opts)}`
    const isBytes = opts.body instanceof Uint8Array
    const body =
      opts.body === undefined
        ? undefined
        : isBytes
          ? (opts.body as Uint8Array)
          : JSON.stringify(opts.body)
    const headers = {
      ...(body !== undefined && !isBytes ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    }
    try {
      await this.#bridge?.ready
      return await fetch(url, { method, body, headers, ...this.#init } as RequestInit)
    } catch (err) {
      throw new IncusError(
        `Failed to ${opts.what ?? `${method} ${path}`}: ${this.unreachable(err)}`,
        0,
      )
    }
  }

  /** A request whose answer is the JSON envelope; error envelopes become IncusError. */
  async request<T = unknown>(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const started = performance.now()
    const res = await this.raw(method, path, opts)
    const text = await res.text()
    let env: ApiResponse<T>
    try {
      env = JSON.parse(text) as ApiResponse<T>
    } catch {
      throw new IncusError(
        `Failed to ${opts.what ?? `${method} ${path}`}: HTTP ${res.status}, not an Incus answer`,
        res.status,
      )
    }
    logger.debug(
      `incus ${method} ${path} → ${res.status} in ${(performance.now() - started).toFixed(1)} ms`,
    )
    if (env.type === 'error' || res.status >= 400) {
      const code = env.error_code || res.status
      throw new IncusError(
        `Failed to ${opts.what ?? `${method} ${path}`}: ${env.error || `HTTP ${code}`}`,
        code,
      )
    }
    return env
  }

  async get<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    return (await this.request<T>('GET', path, opts)).metadata
  }

  /** Starts an async request and returns its operation (the daemon answers 202 + metadata). */
  async startOperation(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<Operation> {
    const env = await this.request<Operation>(method, path, opts)
    if (env.type !== 'async')
      throw new IncusError(
        `Failed to ${opts.what ?? path}: expected an operation, got ${env.type}`,
        0,
      )
    return env.metadata
  }

  /** Waits for an operation to end; a failed operation becomes an IncusError. */
  async wait(
    op: Operation | string,
    opts: { timeoutS?: number; what?: string; project?: string } = {},
  ): Promise<Operation> {
    const id = typeof op === 'string' ? op : op.id
    const query = { timeout: String(opts.timeoutS ?? -1) }
    const done = await this.get<Operation>(`/1.0/operations/${id}/wait`, {
      query,
      what: opts.what,
      project: opts.project,
    })
    if (done.status_code >= 400)
      throw new IncusError(
        `Failed to ${opts.what ?? `wait for operation ${id}`}: ${done.err || done.status}`,
        done.status_code,
      )
    return done
  }

  async instance(name: string, project: string): Promise<InstanceInfo> {
    return this.get<InstanceInfo>(`/1.0/instances/${encodeURIComponent(name)}`, {
      project,
      what: `find instance ${name}`,
    })
  }

  /** Starts a stopped instance and waits until Incus reports it running. */
  async start(name: string, project: string): Promise<void> {
    const what = `start instance ${name}`
    const op = await this.startOperation(
      'PUT',
      `/1.0/instances/${encodeURIComponent(name)}/state`,
      {
        project,
        what,
        body: { action: 'start', timeout: 30 },
      },
    )
    await this.wait(op, { what, project })
  }

  /** A file from inside an instance via the files API (no exec, works on any image). */
  async readFile(name: string, project: string, path: string): Promise<InstanceFile> {
    const what = `read ${path} in instance ${name}`
    const res = await this.raw('GET', `/1.0/instances/${encodeURIComponent(name)}/files`, {
      project,
      query: { path },
      what,
    })
    const body = new Uint8Array(await res.arrayBuffer())
    if (!res.ok) {
      let reason = `HTTP ${res.status}`
      try {
        reason = (JSON.parse(new TextDecoder().decode(body)) as ApiResponse).error || reason
      } catch (err) {
        logger.debug(err)
      }
      throw new IncusError(`Failed to ${what}: ${reason}`, res.status)
    }
    const h = (n: string) => res.headers.get(n) ?? ''
    return {
      content: body,
      uid: Number(h('x-incus-uid')),
      gid: Number(h('x-incus-gid')),
      mode: Number.parseInt(h('x-incus-mode') || '0', 8),
      type: h('x-incus-type'),
    }
  }

  /**
   * The unix socket that carries this client's own access (for raw upgrades): the daemon's socket
   * for an admin client, the certificate bridge for a restricted one. Never the other one.
   */
  async unixPath(): Promise<string> {
    await this.#bridge?.ready
    return this.#init.unix!
  }

  /** Stops a certificate client's bridge socket (admin clients have none). */
  close(): void {
    this.#bridge?.close()
  }

  private unreachable(err: unknown): string {
    const msg = err instanceof Error ? err.message : String(err)
    if (this.endpoint.kind === 'unix') {
      return `cannot reach incusd on ${this.endpoint.socket} (${msg}); is incusd running, and may this user open its socket?`
    }
    return `cannot reach Incus remote '${this.endpoint.name}' at ${this.endpoint.url} (${msg})`
  }
}

let bridges = 0

export interface InstanceInfo {
  name: string
  status: string
  status_code: number
  type: 'container' | 'virtual-machine'
  project: string
  architecture: string
}

export interface InstanceFile {
  content: Uint8Array
  uid: number
  gid: number
  mode: number
  type: string
}

/**
 * TLS for an HTTPS remote. With the server's certificate known (as the incus client stores it in
 * servercerts/), that exact certificate is the only one accepted, whatever name it carries.
 */
export function tlsOptions(ep: Extract<Endpoint, { kind: 'https' }>) {
  if (!ep.serverCert) return { cert: ep.cert, key: ep.key }
  const pinned = new Bun.CryptoHasher('sha256').update(pemToDer(ep.serverCert)).digest('hex')
  return {
    cert: ep.cert,
    key: ep.key,
    ca: ep.serverCert,
    checkServerIdentity: (_host: string, cert: { raw?: Buffer; fingerprint256?: string }) => {
      const got = cert.raw
        ? new Bun.CryptoHasher('sha256').update(cert.raw).digest('hex')
        : (cert.fingerprint256 ?? '').replaceAll(':', '').toLowerCase()
      return got === pinned
        ? undefined
        : new Error(`server certificate ${got} is not the pinned ${pinned}`)
    },
  }
}

function pemToDer(pem: string): Buffer {
  const b64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '')
  return Buffer.from(b64, 'base64')
}
