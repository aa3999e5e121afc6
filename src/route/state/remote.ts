/**
 * The State of a session or of ctl when the state service owns the store: every call is one
 * request over the service's unix socket (protocol.ts). The service knows who we are from the
 * kernel; nothing here claims an identity. The socket staying open is the session's heartbeat.
 */
import type { Socket } from 'bun'
import { BurrowError, fail } from '../../core/errors'
import { logger } from '../../core/log'
import { LineSplitter, LineWriter, type Op, type Reply } from './protocol'
import type { AuditEvent, Banner, Check, Connection, ConnectionFilter, HostState, Registration, State, Sticky } from './types'

interface Hello {
  user: string
  store: string
  location: string
  warning?: string
}

const HOW_TO_START =
  'start it with `systemctl start burrow-route-state` (or run `burrow route state-service` as root), or set state.access: none in route.yaml to route without shared state'

export class RemoteState implements State {
  readonly name = 'service'
  location: string
  warning?: string
  hello?: Hello
  #socket?: Socket<undefined>
  #writer?: LineWriter
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  #next = 1
  #closed = false

  private constructor(readonly socketPath: string) {
    this.location = socketPath
  }

  /** Connects and says hello; `fallback: false` (ctl) refuses an etcd fallback. */
  static async connect(socketPath: string, opts: { fallback?: boolean } = {}): Promise<RemoteState> {
    const r = new RemoteState(socketPath)
    await r.#open()
    const hello = (await r.#call('hello', { fallback: opts.fallback !== false })) as Hello
    r.hello = hello
    r.warning = hello.warning
    r.location = `${hello.location} (through the state service at ${socketPath})`
    return r
  }

  async #open(): Promise<void> {
    const lines = new LineSplitter()
    try {
      this.#socket = await Bun.connect({
        unix: this.socketPath,
        socket: {
          data: (_s, chunk) => {
            for (const line of lines.push(chunk)) this.#reply(JSON.parse(line) as Reply)
          },
          drain: () => this.#writer?.drain(),
          close: () => this.#lost('it closed the connection'),
          error: (_s, err) => this.#lost(err.message),
        },
      })
    } catch (err) {
      const code = (err as { code?: string }).code
      const why = code === 'ENOENT' ? 'nothing listens there' : code === 'ECONNREFUSED' ? 'connection refused' : (err as Error).message
      fail(`reach the route state service at ${this.socketPath}`, `${why}; ${HOW_TO_START}`)
    }
    this.#writer = new LineWriter(this.#socket)
  }

  #reply(m: Reply): void {
    if (m.id === 0 && m.e) return this.#lost(m.e.replace(/^Failed to [^:]*: /, ''))
    const p = this.#pending.get(m.id)
    if (!p) return
    this.#pending.delete(m.id)
    if (m.e !== undefined) p.reject(new BurrowError(m.e))
    else p.resolve(m.r)
  }

  #lost(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    for (const p of this.#pending.values()) p.reject(new BurrowError(`Failed to reach the route state service at ${this.socketPath}: ${reason}`))
    this.#pending.clear()
    logger.debug(`state service connection ended: ${reason}`)
  }

  #call(op: Op, a: Record<string, unknown> = {}): Promise<unknown> {
    if (this.#closed || !this.#writer) return Promise.reject(new BurrowError(`Failed to reach the route state service at ${this.socketPath}: the connection is closed`))
    const id = this.#next++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#writer!.send({ id, op, a })
    })
  }

  async register(c: Connection, _ttlMs: number, command?: string): Promise<Registration> {
    await this.#call('register', { c, command })
    return {
      setBandwidth: (bwIn, bwOut) => void this.#call('bandwidth', { in: bwIn, out: bwOut }).catch(() => {}),
      close: async (exit?: number) => void (await this.#call('unregister', { exit })),
    }
  }

  async connections(filter: ConnectionFilter = {}): Promise<Connection[]> {
    return (await this.#call('connections', { ...filter })) as Connection[]
  }

  async hosts(): Promise<HostState[]> {
    return (await this.#call('hosts')) as HostState[]
  }

  async host(id: string): Promise<HostState | undefined> {
    return ((await this.#call('host', { id })) as HostState | null) ?? undefined
  }

  async recordCheck(id: string, state: Check, ts: number): Promise<void> {
    await this.#call('recordCheck', { id, state, ts })
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    await this.#call('setDisabled', { id, disabled })
  }

  async forgetHost(id: string): Promise<void> {
    await this.#call('forgetHost', { id })
  }

  async remember(_user: string, service: string, dest: string, ttlMs: number): Promise<void> {
    await this.#call('remember', { service, dest, ttl: ttlMs })
  }

  async recall(_user: string, service: string): Promise<string | undefined> {
    return ((await this.#call('recall', { service })) as string | null) ?? undefined
  }

  async sticky(): Promise<Sticky[]> {
    return (await this.#call('sticky')) as Sticky[]
  }

  async forgetSticky(f: { user?: string; service?: string; dest?: string }): Promise<number> {
    return (await this.#call('forgetSticky', { ...f })) as number
  }

  async banner(): Promise<Banner | undefined> {
    return ((await this.#call('banner')) as Banner | null) ?? undefined
  }

  async setBanner(text: string, expire?: number): Promise<void> {
    await this.#call('setBanner', { text, expire })
  }

  async clearBanner(): Promise<void> {
    await this.#call('clearBanner')
  }

  async audit(e: AuditEvent): Promise<void> {
    await this.#call('audit', { ...e })
  }

  close(): void {
    this.#closed = true
    this.#socket?.end()
  }
}
