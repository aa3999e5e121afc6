// A stand-in for the host side of a Firecracker / cloud-hypervisor
// "hybrid vsock" device ("vsock-mux"): an AF_UNIX socket on the host that
// speaks the CONNECT handshake and then carries raw guest stream data.
//
// Protocol (firecracker docs/vsock.md, "Host-Initiated Connections"):
//   host -> VMM  `CONNECT <port>\n`           (decimal guest port, LF)
//   VMM -> host  `OK <host_side_port>\n`       host_side_port in [2^30, 2^31),
//                                              so normally 14 bytes in all
//   then the stream is raw data to/from the guest listener. If nothing
//   listens on that guest port the VMM just closes the connection, no text.
//
// Firecracker's parser (vsock/unix/muxer.rs read_local_stream_port): read
// exactly 10 bytes (len of `connect 0\n`), then one byte at a time until the
// last byte read is `\n` or 32 bytes were read; split the bytes (must be
// UTF-8) on whitespace; first word must equal `connect` case-insensitively,
// second must parse as u32; further words are ignored. Anything else: the
// connection is dropped. Bytes the host sent after the `\n` are NOT eaten by
// the parser; they are the first bytes the guest receives. All of that is
// reproduced here.
//
// Here the "guest" is a map from guest port to an AF_UNIX socket path (e.g.
// a test sshd from ./sshd.ts); the peer connects there and bridges both ways
// with half-close and backpressure (node stream pipe()).

import { existsSync, unlinkSync } from 'node:fs'
import net from 'node:net'

export type MuxBehaviour =
  /** connect the target, write `OK <port>\n` in one write, then bridge */
  | 'ok'
  /** like 'ok' but the OK line goes out in 3 pieces, ~50 ms apart */
  | 'split'
  /** read the CONNECT line, then close without a reply */
  | 'close'
  /** reply `HELLO WORLD\n`, keep the connection open for 2 s, then close */
  | 'garbage'
  /** never reply; keep the connection open until stop() (timeout tests) */
  | 'slow'
  /**
   * like 'ok' but deterministic about the classic trap: wait (up to 1 s) for
   * the target's first bytes (e.g. the SSH banner) and send `OK <port>\n`
   * plus those bytes in ONE write, so the client's first read holds both.
   */
  | 'coalesce'
  /**
   * no OK line at all: bridge straight to the target, whose first bytes (a Debian sshd's
   * 39-byte banner) are the first bytes the client sees (muxes before the OK reply, or a
   * guest-side bridge to sshd)
   */
  | 'banner'
  /** a foreign line `HELLO\n` and no OK line, then the target's bytes */
  | 'foreign'
  /** the OK line only after LATE_MS (7.5 s), then bridge: a slow VMM */
  | 'late'

export interface MuxPeerOptions {
  path: string
  /** guest port -> AF_UNIX socket path to bridge to */
  ports: Record<number, string>
  behaviour?: MuxBehaviour
}

export interface MuxPeer {
  path: string
  /** connections accepted so far */
  readonly connections: number
  /** CONNECT requests that parsed, in order (port numbers) */
  readonly requests: number[]
  /** close the listener and every open connection, unlink the socket */
  stop(): Promise<void>
}

const MIN_READ_LEN = 10
const MAX_READ_LEN = 32
const HOST_PORT_BASE = 2 ** 30
const GARBAGE_HOLD_MS = 2000
const SPLIT_PAUSE_MS = 50
const COALESCE_WAIT_MS = 1000
export const LATE_MS = 7500

export function randomHostPort(): number {
  return HOST_PORT_BASE + Math.floor(Math.random() * HOST_PORT_BASE)
}

/**
 * Firecracker's request parse. Returns { port, used } when a full request is
 * available, 'more' when more bytes are needed, or 'bad' for a request
 * Firecracker would drop. `used` = bytes consumed from `buf`.
 */
export function parseConnect(buf: Buffer): { port: number; used: number } | 'more' | 'bad' {
  if (buf.length < MIN_READ_LEN) return 'more'
  let used = MIN_READ_LEN
  while (buf[used - 1] !== 0x0a && used < MAX_READ_LEN) {
    if (buf.length <= used) return 'more'
    used++
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, used))
  } catch {
    return 'bad'
  }
  // Rust's split_whitespace splits on Unicode White_Space; JS \s is close enough
  const words = text.split(/\s+/).filter(Boolean)
  if (words.length < 2 || words[0]!.toLowerCase() !== 'connect') return 'bad'
  // Rust u32::from_str: optional leading '+', then ASCII digits only
  if (!/^\+?[0-9]+$/.test(words[1]!)) return 'bad'
  const port = Number(words[1]!.replace(/^\+/, ''))
  if (!Number.isSafeInteger(port) || port > 0xffffffff) return 'bad'
  return { port, used }
}

export async function startMuxPeer(opts: MuxPeerOptions): Promise<MuxPeer> {
  const behaviour = opts.behaviour ?? 'ok'
  const sockets = new Set<net.Socket>()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const requests: number[] = []
  let connections = 0

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t)
      fn()
    }, ms)
    timers.add(t)
  }
  const track = (s: net.Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    // errors (EPIPE, ECONNRESET, ...) just end the connection
    s.on('error', () => s.destroy())
  }

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (host) => {
    connections++
    track(host)
    let buf: Buffer = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
      const r = parseConnect(buf)
      if (r === 'more') return
      host.off('data', onData)
      host.off('end', onEarlyEnd)
      host.pause()
      if (r === 'bad') {
        host.destroy()
        return
      }
      requests.push(r.port)
      // bytes after the request line belong to the guest stream
      handle(host, r.port, buf.subarray(r.used))
    }
    const onEarlyEnd = () => host.destroy()
    host.on('data', onData)
    host.on('end', onEarlyEnd)
  })

  function handle(host: net.Socket, port: number, early: Buffer) {
    switch (behaviour) {
      case 'close':
        host.destroy()
        return
      case 'slow':
        // keep reading (and dropping) so the client never blocks on writes
        host.on('data', () => {})
        host.on('end', () => {})
        host.resume()
        return
      case 'garbage':
        host.on('data', () => {})
        host.on('end', () => {})
        host.resume()
        host.write('HELLO WORLD\n')
        later(GARBAGE_HOLD_MS, () => host.destroy())
        return
    }
    const targetPath = opts.ports[port]
    if (targetPath === undefined) {
      // nobody listening on that guest port: plain close, no text
      host.destroy()
      return
    }
    const target = net.connect({ path: targetPath, allowHalfOpen: true })
    track(target)
    target.pause()
    // When one side is completely done, finish the other gracefully: end()
    // it and destroy it only after its queued writes are flushed (destroying
    // right away could drop the tail of a large transfer). Errors destroy
    // both at once.
    const finishThenDestroy = (s: net.Socket) => {
      if (s.destroyed) return
      if (s.writableFinished) {
        s.destroy()
        return
      }
      s.once('finish', () => s.destroy())
      s.end()
    }
    host.on('close', () => finishThenDestroy(target))
    target.on('close', () => finishThenDestroy(host))
    host.on('error', () => target.destroy())
    target.on('error', () => host.destroy())
    target.once('connect', () => {
      if (host.destroyed) return
      const ok = `OK ${randomHostPort()}\n`
      if (early.length) target.write(early)
      const bridge = () => {
        if (host.destroyed || target.destroyed) return
        host.pipe(target)
        target.pipe(host)
      }
      if (behaviour === 'ok') {
        host.write(ok)
        bridge()
      } else if (behaviour === 'banner') {
        bridge()
      } else if (behaviour === 'foreign') {
        host.write('HELLO\n')
        bridge()
      } else if (behaviour === 'late') {
        later(LATE_MS, () => {
          if (host.destroyed) return
          host.write(ok)
          bridge()
        })
      } else if (behaviour === 'split') {
        const a = ok.slice(0, 3)
        const b = ok.slice(3, 8)
        const c = ok.slice(8)
        host.write(a)
        later(SPLIT_PAUSE_MS, () => {
          if (host.destroyed) return
          host.write(b)
          later(SPLIT_PAUSE_MS, () => {
            if (host.destroyed) return
            host.write(c)
            bridge()
          })
        })
      } else {
        // coalesce: OK line + first target bytes in a single write
        let sent = false
        const send = (first?: Buffer) => {
          if (sent || host.destroyed) return
          sent = true
          target.off('readable', onReadable)
          host.write(first ? Buffer.concat([Buffer.from(ok), first]) : ok)
          bridge()
        }
        const onReadable = () => {
          const first = target.read() as Buffer | null
          if (first) send(first)
        }
        target.on('readable', onReadable)
        later(COALESCE_WAIT_MS, () => send())
      }
    })
  }

  if (existsSync(opts.path)) unlinkSync(opts.path)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.path, () => {
      server.off('error', reject)
      resolve()
    })
  })

  let stopped: Promise<void> | undefined
  return {
    path: opts.path,
    get connections() {
      return connections
    },
    get requests() {
      return [...requests]
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t)
        timers.clear()
        for (const s of sockets) s.destroy()
        server.close(() => {
          try {
            if (existsSync(opts.path)) unlinkSync(opts.path)
          } catch {}
          resolve()
        })
      })
      return stopped
    },
  }
}

/** startMuxPeer in a child process, for callers that block their own event loop. */
export async function spawnMuxPeer(
  opts: MuxPeerOptions,
): Promise<{ path: string; stop(): Promise<void> }> {
  const maps = Object.entries(opts.ports).map(([p, t]) => `${p}=${t}`)
  const child = Bun.spawn(
    [
      process.execPath,
      `${import.meta.dir}/mux-peer-main.ts`,
      opts.path,
      opts.behaviour ?? 'ok',
      ...maps,
    ],
    {
      stdout: 'pipe',
      stderr: 'inherit',
    },
  )
  const reader = child.stdout.getReader()
  const first = await reader.read()
  if (!new TextDecoder().decode(first.value).startsWith('ready'))
    throw new Error('mux peer did not start')
  return {
    path: opts.path,
    stop: async () => {
      child.kill('SIGTERM')
      await child.exited
    },
  }
}
