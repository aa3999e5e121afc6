/**
 * Commands inside an instance through `POST /1.0/instances/NAME/exec` and its websockets
 * (lxc/incus shared/api/instance_exec.go, shared/ws). Interactive: socket `0` carries the PTY both
 * ways. Non-interactive: `0` stdin, `1` stdout, `2` stderr. Both have `control` for resize and
 * signals. Data travels in binary frames; an empty text frame marks the end of a stream.
 */
import { logger } from '../core/log'
import type { IncusClient, Operation } from './client'
import { IncusError } from './client'

export interface ExecRequest {
  /** argv, run without a shell */
  command: string[]
  environment?: Record<string, string>
  interactive: boolean
  /** PTY size, interactive only */
  width?: number
  height?: number
  user?: number
  group?: number
  cwd?: string
}

export interface ExecHandlers {
  /** stdout, or the PTY's output; return false to pause until `resumeOutput()` */
  stdout(data: Uint8Array): boolean | void
  stderr?(data: Uint8Array): boolean | void
}

type Fd = '0' | '1' | '2' | 'control'

const early = new WeakMap<WebSocket, MessageEvent[]>()

/** stdin frames queued in the client beyond this make `write()` ask the caller to wait */
const STDIN_HIGH_WATER = 1 << 20

export class Exec {
  readonly #sockets = new Map<Fd, WebSocket>()
  #stdinEnded = false
  #closed = false
  #exitCode?: number
  readonly #outputsDone: Promise<void>
  /** resolves with the exit code once the process ended and its output was delivered */
  readonly exited: Promise<number>

  private constructor(
    readonly client: IncusClient,
    readonly op: Operation,
    readonly project: string,
    sockets: Map<Fd, WebSocket>,
    handlers: ExecHandlers,
  ) {
    this.#sockets = sockets
    const outputs: Promise<void>[] = []
    const wire = (fd: Fd, sink: ((d: Uint8Array) => boolean | void) | undefined) => {
      const ws = sockets.get(fd)
      if (!ws) return
      outputs.push(
        new Promise<void>((resolve) => {
          const onMessage = (ev: MessageEvent) => {
            // A text frame (normally empty) is the end-of-stream barrier. Incus completes an
            // interactive operation only once the client closes the PTY socket after it.
            if (typeof ev.data === 'string') {
              if (fd === '0') ws.close()
              return resolve()
            }
            if (sink?.(ev.data as Uint8Array) === false) ws.pause()
          }
          for (const ev of early.get(ws) ?? []) onMessage(ev)
          ws.onmessage = onMessage
          ws.addEventListener('close', () => resolve())
          if (ws.readyState === WebSocket.CLOSED) resolve()
        }),
      )
    }
    if (sockets.has('1')) {
      wire('1', handlers.stdout)
      wire('2', handlers.stderr ?? (() => {}))
    } else {
      wire('0', handlers.stdout)
    }
    this.#outputsDone = Promise.all(outputs).then(() => {})
    this.exited = this.#finish()
  }

  /** Runs `req` and returns once every websocket is connected, i.e. the process has started. */
  static async start(
    client: IncusClient,
    instance: string,
    project: string,
    req: ExecRequest,
    handlers: ExecHandlers,
  ): Promise<Exec> {
    const what = `run a command in instance ${instance}`
    const body = {
      command: req.command,
      environment: req.environment ?? {},
      interactive: req.interactive,
      'wait-for-websocket': true,
      ...(req.interactive ? { width: req.width ?? 80, height: req.height ?? 24 } : {}),
      ...(req.user !== undefined ? { user: req.user } : {}),
      ...(req.group !== undefined ? { group: req.group } : {}),
      ...(req.cwd ? { cwd: req.cwd } : {}),
    }
    const op = await client.startOperation(
      'POST',
      `/1.0/instances/${encodeURIComponent(instance)}/exec`,
      { project, body, what },
    )
    const fds = (op.metadata as { fds?: Record<string, string> } | null)?.fds ?? {}
    const names: Fd[] = req.interactive ? ['0'] : ['0', '1', '2']
    const sockets = new Map<Fd, WebSocket>()
    try {
      // Control first: without a PTY Incus starts the process once 0, 1 and 2 are connected and
      // does not wait for control, so a quick command could end (and the operation with it)
      // before a late control socket connects ("Only running operations can be connected").
      sockets.set('control', await connect(client, op.id, fds.control, what))
      await Promise.all(
        names.map(async (fd) => sockets.set(fd, await connect(client, op.id, fds[fd], what))),
      )
    } catch (err) {
      for (const ws of sockets.values()) ws.close()
      throw err
    }
    return new Exec(client, op, project, sockets, handlers)
  }

  /** true until the process has ended or `close()` was called */
  get running(): boolean {
    return this.#exitCode === undefined && !this.#closed
  }

  /** Sends stdin; false means "queued beyond the high-water mark", call `waitStdin()`. */
  write(data: Uint8Array): boolean {
    const ws = this.#sockets.get('0')
    if (!ws || this.#stdinEnded || ws.readyState !== WebSocket.OPEN) return true
    ws.send(data)
    return ws.bufferedAmount < STDIN_HIGH_WATER
  }

  /** Resolves once the queued stdin has drained below the high-water mark. */
  async waitStdin(): Promise<void> {
    const ws = this.#sockets.get('0')
    while (ws && ws.readyState === WebSocket.OPEN && ws.bufferedAmount >= STDIN_HIGH_WATER / 2)
      await Bun.sleep(1)
  }

  /** stdin EOF. With a PTY there is no EOF to pass on (the client types ^D itself). */
  end(): void {
    if (this.#stdinEnded) return
    this.#stdinEnded = true
    const ws = this.#sockets.get('0')
    if (ws?.readyState === WebSocket.OPEN && this.#sockets.has('1')) ws.send('')
  }

  resumeOutput(): void {
    for (const fd of ['0', '1', '2'] as const) {
      const ws = this.#sockets.get(fd)
      if (ws?.isPaused) ws.resume()
    }
  }

  resize(width: number, height: number): void {
    // the control protocol wants the numbers as strings
    this.#control({
      command: 'window-resize',
      args: { width: String(width), height: String(height) },
    })
  }

  signal(signal: number): void {
    this.#control({ command: 'signal', signal })
  }

  /** Kills the process (SIGKILL) unless it already ended, then drops the websockets. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#exitCode === undefined) this.signal(9)
    // let the control message leave before the sockets go
    setTimeout(() => {
      for (const ws of this.#sockets.values()) ws.close()
    }, 50)
  }

  async #finish(): Promise<number> {
    let code: number | undefined
    try {
      const done = await this.client.wait(this.op, {
        what: 'wait for the command',
        project: this.project,
      })
      code = (done.metadata as { return?: number } | null)?.return
    } catch (err) {
      // Incus fails the operation where a shell would exit 127/126 (instance_exec.go)
      const msg = err instanceof Error ? err.message : ''
      if (/Command not found$/.test(msg)) code = 127
      else if (/Command not executable$/.test(msg)) code = 126
      else {
        this.#closeAll()
        throw err
      }
    }
    this.#exitCode = typeof code === 'number' ? code : -1
    await this.#outputsDone
    this.#closeAll()
    return this.#exitCode
  }

  #closeAll(): void {
    this.#closed = true
    for (const ws of this.#sockets.values()) ws.close()
  }

  #control(msg: unknown): void {
    const ws = this.#sockets.get('control')
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg))
  }
}

function connect(
  client: IncusClient,
  opId: string,
  secret: string | undefined,
  what: string,
): Promise<WebSocket> {
  if (!secret)
    return Promise.reject(new IncusError(`Failed to ${what}: Incus sent no websocket secret`, 0))
  const { url, options } = client.websocketTarget(
    `/1.0/operations/${opId}/websocket?secret=${secret}`,
  )
  return new Promise((resolve, reject) => {
    // permessage-deflate would cost CPU for nothing on a local socket
    const ws = new WebSocket(url, { ...options, perMessageDeflate: false } as never)
    ws.binaryType = 'nodebuffer' as never
    // the process may start (and write) before every socket is wired: keep what comes early
    const queue: MessageEvent[] = []
    early.set(ws, queue)
    ws.onmessage = (ev) => queue.push(ev)
    ws.onopen = () => {
      ws.onerror = (ev) => logger.debug(`incus websocket error: ${(ev as ErrorEvent).message}`)
      resolve(ws)
    }
    ws.onerror = (ev) =>
      reject(new IncusError(`Failed to ${what}: websocket: ${(ev as ErrorEvent).message}`, 0))
  })
}

/** Runs a short command and collects its output (for lookups such as `getent passwd`). */
export async function run(
  client: IncusClient,
  instance: string,
  project: string,
  command: string[],
  opts: { limit?: number; user?: number; group?: number; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const limit = opts.limit ?? 1 << 20
  const out: Uint8Array[] = []
  const err: Uint8Array[] = []
  let size = 0
  const keep = (into: Uint8Array[]) => (d: Uint8Array) => {
    size += d.length
    if (size <= limit) into.push(d)
  }
  const exec = await Exec.start(
    client,
    instance,
    project,
    { command, interactive: false, user: opts.user, group: opts.group, cwd: opts.cwd },
    {
      stdout: keep(out),
      stderr: keep(err),
    },
  )
  exec.end()
  const code = await exec.exited
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }
}
