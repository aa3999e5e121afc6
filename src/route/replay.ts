/**
 * `burrow route replay FILE`: plays a recording in real time (terminal output, or the byte log's
 * stdout/stderr), or with --dump prints each event with its time: `-->` input, `<--` output,
 * `<==` stderr, as sshproxy-replay does.
 */
import { readFileSync } from 'node:fs'
import { fail } from '../core/errors'
import { BYTELOG, STDERR, STDIN, STDOUT } from './record'

export interface Event {
  t: number
  /** 'i' input, 'o' output, 'e' stderr, 'r' resize, 'm' marker */
  code: string
  data: Uint8Array
}

export interface Recording {
  kind: 'asciicast' | 'bytelog'
  header: Record<string, unknown>
  events: Event[]
}

const CODES: Record<number, string> = { [STDIN]: 'i', [STDOUT]: 'o', [STDERR]: 'e' }

export function parseRecording(buf: Uint8Array, file = 'the recording'): Recording {
  const nl = buf.indexOf(10)
  let header: Record<string, unknown>
  try {
    header = JSON.parse(Buffer.from(buf.subarray(0, nl < 0 ? buf.length : nl)).toString())
  } catch {
    fail(
      `read ${file}`,
      'its first line is not a JSON header (is it an asciicast v2 .cast or a burrow .log?)',
    )
  }
  const rest = buf.subarray(nl + 1)
  if (header.version === 2 && typeof header.width === 'number') {
    const events = Buffer.from(rest)
      .toString()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l, i) => {
        const e = JSON.parse(l) as [number, string, string]
        if (!Array.isArray(e) || typeof e[0] !== 'number')
          fail(`read ${file}`, `line ${i + 2} is not an asciicast event`)
        return { t: e[0], code: e[1], data: Buffer.from(e[2]) }
      })
    return { kind: 'asciicast', header, events }
  }
  if (header.format !== BYTELOG)
    fail(`read ${file}`, `unknown format ${JSON.stringify(header.format ?? header.version)}`)
  const events: Event[] = []
  const v = new DataView(rest.buffer, rest.byteOffset, rest.byteLength)
  for (let off = 0; off < rest.length; ) {
    if (off + 13 > rest.length) fail(`read ${file}`, `truncated record at byte ${nl + 1 + off}`)
    const len = v.getUint32(off + 9)
    if (off + 13 + len > rest.length)
      fail(`read ${file}`, `truncated record at byte ${nl + 1 + off}`)
    events.push({
      t: v.getFloat64(off),
      code: CODES[v.getUint8(off + 8)] ?? '?',
      data: rest.subarray(off + 13, off + 13 + len),
    })
    off += 13 + len
  }
  return { kind: 'bytelog', header, events }
}

const ARROWS: Record<string, string> = { i: '-->', o: '<--', e: '<==', r: 'resize', m: 'marker' }

/** Printable text for --dump: escapes for control bytes, hex for binary runs. */
function show(data: Uint8Array): string {
  const s = Buffer.from(data).toString('latin1')
  return JSON.stringify(s).slice(1, -1)
}

export function dumpRecording(rec: Recording): string {
  const h = rec.header
  const lines = [
    `Format: ${rec.kind}`,
    ...Object.entries(h)
      .filter(([, v]) => typeof v !== 'object')
      .map(
        ([k, v]) =>
          `${k[0]!.toUpperCase()}${k.slice(1)}: ${k === 'timestamp' ? new Date(Number(v) * 1000).toISOString() : v}`,
      ),
  ]
  for (const e of rec.events)
    lines.push(`+${e.t.toFixed(3)} ${ARROWS[e.code] ?? e.code} ${show(e.data)}`)
  return `${lines.join('\n')}\n`
}

export async function runReplay(
  file: string,
  opts: { dump?: boolean; speed?: string },
): Promise<void> {
  let buf: Uint8Array
  try {
    buf = readFileSync(file)
  } catch (err) {
    fail(`read ${file}`, (err as Error).message)
  }
  const rec = parseRecording(buf, file)
  if (opts.dump) return void process.stdout.write(dumpRecording(rec))
  const speed = opts.speed === undefined ? 1 : Number(opts.speed)
  if (!(speed > 0)) fail(`parse --speed '${opts.speed}'`, 'expected a positive number')
  const started = performance.now()
  for (const e of rec.events) {
    if (e.code !== 'o' && e.code !== 'e') continue
    const wait = (e.t * 1000) / speed - (performance.now() - started)
    if (wait > 0) await Bun.sleep(wait)
    const out = e.code === 'e' ? process.stderr : process.stdout
    if (!out.write(e.data)) await new Promise((res) => out.once('drain', res))
  }
}
