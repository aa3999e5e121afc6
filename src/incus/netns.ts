/**
 * Connections into a local container made from this host, without a proxy device: TCP from a
 * socket created inside the container's network namespace, unix sockets resolved inside the
 * container's root (openat2 RESOLVE_IN_ROOT). A real socket keeps TCP's half-close (a proxy
 * device's forkproxy ends both directions at the first EOF) and reports a refused connect before
 * anything is accepted, as sshd does. Needs root (setns) and a container on this host; callers fall back to a device.
 */
import { isIP } from 'node:net'
import { constants } from 'node:os'
import { Duplex } from 'node:stream'
import type { Socket, SocketHandler } from 'bun'
import { SyscallError } from '../core/errors'
import { close, inetPton, openat2, openDir, openRead, setns, socket } from '../core/ffi/libc'
import { strerror, tryConnect } from '../core/ffi/libc'
import {
  AF_INET,
  AF_INET6,
  CLONE_NEWNET,
  errno,
  O_PATH,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  sockaddrIn,
  sockaddrIn6,
} from '../core/ffi/structs'
import type { IncusClient } from './client'

export type InsideTarget = { host: string; port: number } | { path: string }

/**
 * The destination refused or could not be reached. `reason` goes to the client as sshd words
 * it: strerror's text for TCP, "open failed" for unix sockets; `detail` only to the log.
 */
export class ConnectFailed extends Error {
  override name = 'ConnectFailed'
  constructor(
    readonly reason: string,
    detail = reason,
  ) {
    super(`connect failed: ${detail}`)
  }
}

/**
 * The pid of a running container's init when this process can enter it: root, and Incus on this
 * host (its unix socket). undefined for VMs, remotes over HTTPS or an unprivileged burrow.
 */
export async function insidePid(
  client: IncusClient,
  instance: string,
  project: string,
): Promise<number | undefined> {
  if (client.endpoint.kind !== 'unix' || process.geteuid?.() !== 0) return undefined
  const state = await client.get<{ pid?: number; status?: string }>(
    `/1.0/instances/${encodeURIComponent(instance)}/state`,
    { project, what: `find instance ${instance}` },
  )
  const info = await client.instance(instance, project)
  return info.type === 'container' && state.pid ? state.pid : undefined
}

/** `tcp:127.0.0.1:22`, `tcp:[::1]:22`, `unix:/path` (proxy-device syntax) as a target, or
 * undefined for host names (resolving them would leave the namespace before socket()). */
export function insideTarget(connect: string): InsideTarget | undefined {
  if (connect.startsWith('unix:')) return { path: connect.slice(5) }
  const m = /^tcp:(?:\[(.+)\]|([^:]+)):(\d+)$/.exec(connect)
  const host = m?.[1] ?? m?.[2]
  return host && isIP(host) ? { host, port: Number(m![3]) } : undefined
}

/**
 * Connects to `target` in the namespaces of process `pid` (the container's init). The thread
 * is inside the container's netns only for Bun.connect's synchronous socket() call: nothing
 * else runs meanwhile, and the socket stays in the namespace it was made in.
 */
export async function connectInside(pid: number, target: InsideTarget): Promise<Duplex> {
  const stream = new BunSocketStream()
  const socket = stream.handlers()
  if ('path' in target) {
    const fd = openInside(pid, target.path)
    try {
      // connect(2) through the O_PATH fd reaches the very socket that was resolved
      const unix = `/proc/self/fd/${fd}`
      await Bun.connect({ unix, allowHalfOpen: true, socket } as never).catch((err) => {
        throw new ConnectFailed('open failed', `${target.path}: ${failed(err).reason}`)
      })
    } finally {
      close(fd)
    }
    return stream
  }
  const connecting = inNetns(pid, () =>
    Bun.connect({ hostname: target.host, port: target.port, allowHalfOpen: true, socket } as never),
  )
  await connecting.catch((err) => {
    throw failed(err, probe(pid, target))
  })
  return stream
}

/**
 * A TCP listener inside the container's network namespace (`-R`): made there like the
 * connecting sockets above, so accepted connections keep half-close. Port 0 takes a free port
 * (the one returned). Throws ConnectFailed with strerror's text when it cannot listen.
 */
export function listenInside(
  pid: number,
  host: string,
  port: number,
  onConnection: (stream: Duplex) => void,
): { port: number; stop(): void } {
  let listener: Bun.TCPSocketListener<BunSocketStream>
  try {
    listener = inNetns(pid, () =>
      Bun.listen<BunSocketStream>({
        hostname: host,
        port,
        allowHalfOpen: true,
        socket: {
          open(s) {
            const stream = new BunSocketStream()
            s.data = stream
            stream.attach(s)
            onConnection(stream)
          },
          data: (s, d) => s.data.onData(d),
          drain: (s) => s.data.onDrain(),
          end: (s) => s.data.onEnd(),
          close: (s, err) => s.data?.onClose(err),
          error: (s, err) => s.data?.onClose(err),
        },
      }),
    )
  } catch (err) {
    throw failed(err as { code?: string; message?: string })
  }
  return { port: listener.port, stop: () => listener.stop(true) }
}

/**
 * An O_PATH fd for `path` as the container sees it. Not `/proc/PID/root/PATH`: an absolute
 * symlink in the container would be followed from this host's root (a link to the host's
 * Incus socket would hand it over); RESOLVE_IN_ROOT keeps every step inside the container.
 */
function openInside(pid: number, path: string): number {
  const root = openDir(`/proc/${pid}/root`)
  try {
    return openat2(root, path, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
  } catch (err) {
    const reason = err instanceof SyscallError ? err.reason : String(err)
    throw new ConnectFailed('open failed', `${path}: ${reason}`)
  } finally {
    close(root)
  }
}

/** Runs `fn` with this thread in process `pid`'s network namespace, and back. */
function inNetns<T>(pid: number, fn: () => T): T {
  const self = openRead('/proc/thread-self/ns/net')
  try {
    const inside = openRead(`/proc/${pid}/ns/net`)
    try {
      setns(inside, CLONE_NEWNET)
    } finally {
      close(inside)
    }
    try {
      return fn()
    } finally {
      setns(self, CLONE_NEWNET)
    }
  } finally {
    close(self)
  }
}

/**
 * Bun reports every failed connect as ECONNREFUSED; the real errno (ENETUNREACH when the
 * container's lo is down, …) comes from one more non-blocking attempt, made only after the
 * first failed. Loopback answers at once; anything slower keeps Bun's word.
 */
function probe(pid: number, t: { host: string; port: number }): number | undefined {
  const v6 = isIP(t.host) === 6
  const addr = inetPton(v6 ? AF_INET6 : AF_INET, t.host)
  if (!addr) return undefined
  const fd = inNetns(pid, () => socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK))
  try {
    const rc = tryConnect(fd, v6 ? sockaddrIn6(addr, t.port) : sockaddrIn(addr, t.port))
    return rc < 0 && -rc !== errno.EINPROGRESS ? -rc : undefined
  } finally {
    close(fd)
  }
}

function failed(err: { code?: string; message?: string }, probed?: number): ConnectFailed {
  const no = probed ?? constants.errno[err.code as keyof typeof constants.errno]
  return new ConnectFailed(no ? strerror(no) : (err.message ?? String(err)))
}

/** A Bun socket as a Node Duplex (what ssh2 channels are piped to), with half-close both ways. */
class BunSocketStream extends Duplex {
  #sock?: Socket<unknown>
  #pending?: { buf: Uint8Array; cb: (err?: Error | null) => void }
  #paused = false

  constructor() {
    super({ allowHalfOpen: true })
  }

  /** handlers for one connecting socket */
  handlers(): SocketHandler<undefined> {
    return {
      open: (s) => this.attach(s),
      data: (_s, d) => this.onData(d),
      drain: () => this.onDrain(),
      end: () => this.onEnd(),
      close: (_s, err) => this.onClose(err),
      error: (_s, err) => this.onClose(err),
      connectError: () => {},
    }
  }

  attach(s: Socket<unknown>): void {
    this.#sock = s
  }

  onData(d: Uint8Array): void {
    if (!this.push(d) && !this.#paused) {
      this.#paused = true
      this.#sock?.pause()
    }
  }

  onDrain(): void {
    this.#flush()
  }

  onEnd(): void {
    this.push(null)
  }

  onClose(err?: Error): void {
    this.destroy(err ?? undefined)
  }

  override _read(): void {
    if (this.#paused) {
      this.#paused = false
      this.#sock?.resume()
    }
  }

  override _write(chunk: Uint8Array, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#pending = { buf: chunk, cb }
    this.#flush()
  }

  #flush(): void {
    const p = this.#pending
    if (!p || !this.#sock) return
    const n = this.#sock.write(p.buf)
    if (n < 0) {
      this.#pending = undefined
      p.cb(new Error('the connection is closed'))
      return
    }
    // a partial write: the rest goes at `drain`
    if (n < p.buf.byteLength) return void (p.buf = p.buf.subarray(n))
    this.#pending = undefined
    p.cb()
  }

  override _final(cb: (err?: Error | null) => void): void {
    // shutdown(SHUT_WR): the peer reads EOF and may still answer
    this.#sock?.shutdown()
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#sock?.end()
    cb(err)
  }
}
