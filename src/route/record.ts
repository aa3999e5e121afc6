/**
 * Recording (`dump`). A session with a terminal runs ssh on a PTY of our own and is written as
 * asciicast v2 (`.cast`: "o" output, "i" input, "r" resize), which stock `asciinema play` reads.
 * Other sessions (scp, rsync, commands) are a timed byte log (`.log`, BYTELOG below), since their
 * bytes are not text. `burrow route replay` reads both.
 */
import { chmodSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { logger } from '../core/log'
import { type Child, superviseChild, wrap } from './child'
import type { Registration } from './state/types'

export const BYTELOG = 'burrow-bytelog'
/** stream numbers in the byte log, as file descriptors */
export const STDIN = 0
export const STDOUT = 1
export const STDERR = 2

export interface RecordOptions {
  argv: string[]
  env: Record<string, string | undefined>
  /** the expanded `dump` template; `.cast` or `.log` is appended */
  path: string
  tty: boolean
  registration?: Registration
  header: { user: string; sid: string; from: string; sshd: string; dest: string; command: string }
}

class Sink {
  readonly started = performance.now()
  readonly file: ReturnType<ReturnType<typeof Bun.file>['writer']>
  bytesIn = 0
  bytesOut = 0

  constructor(readonly path: string) {
    // 0700 directories and a 0600 file: other users must not read someone's session
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    Bun.write(path, '')
    chmodSync(path, 0o600)
    this.file = Bun.file(path).writer()
  }

  get t(): number {
    return (performance.now() - this.started) / 1000
  }

  write(data: string | Uint8Array): void {
    this.file.write(data)
  }

  async close(): Promise<void> {
    await this.file.end()
  }
}

/** Bandwidth into the state store every few seconds, for `route_select: bandwidth`. */
function meter(sink: Sink, reg: Registration | undefined): () => void {
  if (!reg) return () => {}
  let last = { t: sink.t, i: 0, o: 0 }
  const timer = setInterval(() => {
    const dt = Math.max(0.001, sink.t - last.t)
    reg.setBandwidth((sink.bytesIn - last.i) / dt, (sink.bytesOut - last.o) / dt)
    last = { t: sink.t, i: sink.bytesIn, o: sink.bytesOut }
  }, 5000)
  return () => clearInterval(timer)
}

export async function runRecorded(o: RecordOptions): Promise<number> {
  const sink = new Sink(`${o.path}${o.tty ? '.cast' : '.log'}`)
  logger.debug(`${o.header.sid}: recording to ${sink.path}`)
  const stop = meter(sink, o.registration)
  try {
    return o.tty ? await recordTerminal(o, sink) : await recordPipes(o, sink)
  } finally {
    stop()
    await sink.close()
  }
}

/** stty on our stdin (the client's terminal); its output, or '' when it failed. */
function stty(args: string[]): string {
  const r = Bun.spawnSync(['stty', ...args], { stdin: 'inherit', stdout: 'pipe', stderr: 'pipe' })
  if (r.exitCode !== 0) logger.debug(`stty ${args.join(' ')} failed: ${r.stderr.toString().trim()}`)
  return r.exitCode === 0 ? r.stdout.toString().trim() : ''
}

async function recordTerminal(o: RecordOptions, sink: Sink): Promise<number> {
  const size = () => ({ cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 })
  const { cols, rows } = size()
  const h = o.header
  sink.write(
    `${JSON.stringify({
      version: 2,
      width: cols,
      height: rows,
      timestamp: Math.floor(Date.now() / 1000),
      command: h.command || undefined,
      title: `${h.user}@${h.dest} (${h.sid}) from ${h.from}`,
      env: { TERM: o.env.TERM ?? 'xterm', SHELL: o.env.SHELL ?? '/bin/sh' },
    })}\n`,
  )
  const event = (code: string, data: string) =>
    sink.write(`${JSON.stringify([Number(sink.t.toFixed(6)), code, data])}\n`)
  // a UTF-8 sequence may be split across reads; asciicast events must be whole characters
  const outText = new TextDecoder('utf-8', { fatal: false })
  const inText = new TextDecoder('utf-8', { fatal: false })
  let pending = Promise.resolve()
  const proc = Bun.spawn(o.argv, {
    env: o.env,
    terminal: {
      cols,
      rows,
      name: o.env.TERM ?? 'xterm',
      data: (_t, data) => {
        sink.bytesOut += data.length
        const text = outText.decode(data, { stream: true })
        if (text) event('o', text)
        const copy = Buffer.from(data)
        pending = pending.then(
          () =>
            new Promise<void>((res) =>
              process.stdout.write(copy) ? res() : process.stdout.once('drain', res),
            ),
        )
      },
    },
  })
  const child: Child = wrap(proc)
  const stdin = process.stdin
  // stty, not setRawMode: libuv's raw mode keeps output post-processing (ONLCR), so every
  // newline from our PTY would gain a second \r; ssh itself uses the full cfmakeraw()
  const saved = stty(['-g'])
  stty(['raw', '-echo'])
  const onInput = (d: Buffer) => {
    sink.bytesIn += d.length
    const text = inText.decode(d, { stream: true })
    if (text) event('i', text)
    proc.terminal?.write(d)
  }
  stdin.on('data', onInput)
  const onResize = () => {
    const s = size()
    proc.terminal?.resize(s.cols, s.rows)
    event('r', `${s.cols}x${s.rows}`)
  }
  process.on('SIGWINCH', onResize)
  try {
    const code = await superviseChild(child)
    // the PTY may still hold output written just before exit
    await Bun.sleep(20)
    await pending
    return code
  } finally {
    process.off('SIGWINCH', onResize)
    stdin.off('data', onInput)
    if (saved) stty([saved])
    stdin.pause()
    proc.terminal?.close()
  }
}

/** One byte-log record: f64 seconds since start, u8 stream, u32 length (big-endian), data. */
export function byteRecord(t: number, stream: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(13 + data.length)
  const v = new DataView(out.buffer)
  v.setFloat64(0, t)
  v.setUint8(8, stream)
  v.setUint32(9, data.length)
  out.set(data, 13)
  return out
}

async function copyOut(
  from: ReadableStream<Uint8Array>,
  to: NodeJS.WriteStream,
  sink: Sink,
  stream: number,
): Promise<void> {
  for await (const chunk of from) {
    sink.bytesOut += chunk.length
    sink.write(byteRecord(sink.t, stream, chunk))
    if (!to.write(chunk)) await new Promise((res) => to.once('drain', res))
  }
}

async function recordPipes(o: RecordOptions, sink: Sink): Promise<number> {
  const h = o.header
  sink.write(
    `${JSON.stringify({ format: BYTELOG, version: 1, timestamp: Date.now() / 1000, ...h })}\n`,
  )
  const proc = Bun.spawn(o.argv, { env: o.env, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' })
  const input = (async () => {
    try {
      for await (const chunk of Bun.stdin.stream()) {
        sink.bytesIn += chunk.length
        sink.write(byteRecord(sink.t, STDIN, chunk))
        proc.stdin.write(chunk)
        await proc.stdin.flush()
      }
    } catch (err) {
      logger.debug(`stdin copy ended: ${(err as Error).message}`)
    } finally {
      try {
        await proc.stdin.end()
      } catch {
        // ssh already exited and closed its end
      }
    }
  })()
  const outputs = Promise.all([
    copyOut(proc.stdout, process.stdout, sink, STDOUT),
    copyOut(proc.stderr, process.stderr, sink, STDERR),
  ])
  const code = await superviseChild(wrap(proc))
  await outputs
  void input
  return code
}
