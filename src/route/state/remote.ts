/**
 * The State of a session or of ctl when the state service owns the store: every call is one
 * request over the service's unix socket (protocol.ts). The service knows who we are from the
 * kernel; nothing here claims an identity. The socket staying open is the session's heartbeat.
 * A session whose service connection drops (the service restarted) connects again and registers
 * the same session again, so a restart does not leave live sessions uncounted.
 */
import type { Socket } from 'bun'
import { BurrowError, fail } from '../../core/errors'
import { logger } from '../../core/log'
import { LineSplitter, LineWriter, type Op, type Reply } from './protocol'
import type {
  AuditEvent,
  Banner,
  Check,
  Connection,
  ConnectionFilter,
  HostState,
  Registration,
  State,
  Sticky,
} from './types'

interface Hello {
  user: string
  store: string
  location: string
  warning?: string
}

/**
 * waits between attempts to reach a restarted service, in ms; the last one repeats. Each is
 * spread over ±50 % so a gateway's sessions, which all lost the service at once, do not all
 * come back in the same instant.
 */
const RESUME_WAITS = [200, 500, 1000, 2000, 5000]

interface LiveSession {
  c: Connection
  command?: string
  /** the last bandwidth reported, sent again after a resume */
  bw?: [number, number]
  ended: boolean
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
  /** close() was called: no more calls, no resuming */
  #closed = false
  /** the current connection is gone (until a resume opens another) */
  #down = true
  /** the registered session, registered again after a lost connection */
  #session?: LiveSession
  #resuming?: ReturnType<typeof setTimeout>
  /** a resume is under way: a connection lost during it does not start a second one */
  #resumeActive = false

  private constructor(readonly socketPath: string) {
    this.location = socketPath
  }

  /** Connects and says hello; `fallback: false` (ctl) refuses an etcd fallback. */
  static async connect(
    socketPath: string,
    opts: { fallback?: boolean } = {},
  ): Promise<RemoteState> {
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
    // callbacks of an earlier connection must not end a newer one
    const mine = (s: Socket<undefined>) => s === this.#socket
    try {
      this.#socket = await Bun.connect({
        unix: this.socketPath,
        socket: {
          data: (s, chunk) => {
            if (mine(s))
              for (const line of lines.push(chunk)) this.#reply(JSON.parse(line) as Reply)
          },
          drain: (s) => void (mine(s) && this.#writer?.drain()),
          close: (s) => void (mine(s) && this.#lost('it closed the connection')),
          error: (s, err) => void (mine(s) && this.#lost(err.message)),
        },
      })
    } catch (err) {
      const code = (err as { code?: string }).code
      const why =
        code === 'ENOENT'
          ? 'nothing listens there'
          : code === 'ECONNREFUSED'
            ? 'connection refused'
            : (err as Error).message
      fail(`reach the route state service at ${this.socketPath}`, `${why}; ${HOW_TO_START}`)
    }
    this.#writer = new LineWriter(this.#socket)
    this.#down = false
  }

  #reply(m: Reply): void {
    if (m.id === 0 && m.e) {
      this.#lost(m.e.replace(/^Failed to [^:]*: /, ''))
      return
    }
    const p = this.#pending.get(m.id)
    if (!p) return
    this.#pending.delete(m.id)
    if (m.e !== undefined) p.reject(new BurrowError(m.e))
    else p.resolve(m.r)
  }

  #lost(reason: string): void {
    if (this.#down) return
    this.#down = true
    for (const p of this.#pending.values())
      p.reject(
        new BurrowError(`Failed to reach the route state service at ${this.socketPath}: ${reason}`),
      )
    this.#pending.clear()
    logger.debug(`state service connection ended: ${reason}`)
    if (!this.#closed && this.#session && !this.#session.ended && !this.#resumeActive) {
      this.#resumeActive = true
      this.#resume(0)
    }
  }

  /**
   * Connects again and registers the live session again (`again`: the service keeps its id and
   * start). Timers are unref'd: a resume never keeps the session's process alive.
   */
  #resume(attempt: number): void {
    const wait = RESUME_WAITS[Math.min(attempt, RESUME_WAITS.length - 1)]! * (0.5 + Math.random())
    this.#resuming = setTimeout(async () => {
      const s = this.#session
      if (this.#closed || !s || s.ended) return void (this.#resumeActive = false)
      try {
        await this.#open()
        await this.#call('hello', { fallback: true })
        await this.#call('register', { c: s.c, command: s.command, again: true })
        this.#resumeActive = false
        if (s.bw) void this.#call('bandwidth', { in: s.bw[0], out: s.bw[1] }).catch(() => {})
        logger.debug(`session ${s.c.id} registered again with the state service`)
      } catch (err) {
        logger.debug(`Failed to register session ${s.c.id} again: ${(err as Error).message}`)
        // a refusal on a live connection (the service said no to this session) is final
        if (this.#down && !this.#closed && !s.ended) return this.#resume(attempt + 1)
        this.#resumeActive = false
        s.ended = true
      }
    }, wait)
    this.#resuming.unref()
  }

  #call(op: Op, a: Record<string, unknown> = {}): Promise<unknown> {
    if (this.#closed || this.#down || !this.#writer)
      return Promise.reject(
        new BurrowError(
          `Failed to reach the route state service at ${this.socketPath}: the connection is closed`,
        ),
      )
    const id = this.#next++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#writer!.send({ id, op, a })
    })
  }

  async register(c: Connection, _ttlMs: number, command?: string): Promise<Registration> {
    await this.#call('register', { c, command })
    const session: LiveSession = { c, command, ended: false }
    this.#session = session
    return {
      setBandwidth: (bwIn, bwOut) => {
        session.bw = [bwIn, bwOut]
        void this.#call('bandwidth', { in: bwIn, out: bwOut }).catch(() => {})
      },
      close: async (exit?: number) => {
        session.ended = true
        clearTimeout(this.#resuming)
        await this.#call('unregister', { exit })
      },
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
    clearTimeout(this.#resuming)
    this.#socket?.end()
  }
}
