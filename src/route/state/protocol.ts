/**
 * The state service's wire format: newline-delimited JSON over a unix stream socket. A request
 * is `{"id":N,"op":"…","a":{…}}`, its reply `{"id":N,"r":…}` or `{"id":N,"e":"Failed to …"}`;
 * replies may come in any order. Lines are bounded (policy LIMITS.lineBytes): a longer one ends
 * the connection, so no client can make the service buffer without limit.
 */
import { LIMITS } from '../policy'

/** Where sessions find the service unless route.yaml says otherwise (state.socket). */
// not under /run/burrow: that directory is private (0700) to serve's and proxy's runtime files
export const DEFAULT_SOCKET = '/run/burrow-route/state.sock'

export const OPS = [
  'hello',
  'register',
  'bandwidth',
  'unregister',
  'audit',
  'connections',
  'hosts',
  'host',
  'recordCheck',
  'setDisabled',
  'forgetHost',
  'remember',
  'recall',
  'sticky',
  'forgetSticky',
  'banner',
  'setBanner',
  'clearBanner',
] as const
export type Op = (typeof OPS)[number]

export interface Request {
  id: number
  op: Op
  a: Record<string, unknown>
}

export interface Reply {
  id: number
  r?: unknown
  e?: string
}

/** Splits a byte stream into lines; throws once a line grows past the limit. */
export class LineSplitter {
  #text = ''
  readonly #decoder = new TextDecoder()

  constructor(readonly max = LIMITS.lineBytes) {}

  push(chunk: Uint8Array): string[] {
    this.#text += this.#decoder.decode(chunk, { stream: true })
    const lines = this.#text.split('\n')
    this.#text = lines.pop()!
    if (this.#text.length > this.max || lines.some((l) => l.length > this.max)) {
      throw new Error(`a message is longer than ${this.max} bytes`)
    }
    return lines.filter((l) => l.length > 0)
  }
}

/** A request line from a client, checked for shape; undefined when it is not one. */
export function parseRequest(line: string): Request | undefined {
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  const { id, op, a } = v as Record<string, unknown>
  if (
    typeof id !== 'number' ||
    !Number.isSafeInteger(id) ||
    typeof op !== 'string' ||
    !(OPS as readonly string[]).includes(op)
  )
    return undefined
  if (a !== undefined && (typeof a !== 'object' || a === null || Array.isArray(a))) return undefined
  return { id, op: op as Op, a: (a ?? {}) as Record<string, unknown> }
}

interface Writable {
  write(data: Uint8Array): number
}

/** Writes whole lines to a Bun socket, keeping what the kernel did not take until `drain`. */
export class LineWriter {
  #queue: Uint8Array[] = []

  constructor(readonly socket: Writable) {}

  send(obj: unknown): void {
    this.#queue.push(Buffer.from(`${JSON.stringify(obj)}\n`))
    if (this.#queue.length === 1) this.drain()
  }

  drain(): void {
    while (this.#queue.length) {
      const head = this.#queue[0]!
      const n = this.socket.write(head)
      if (n < head.byteLength) {
        this.#queue[0] = head.subarray(Math.max(0, n))
        return
      }
      this.#queue.shift()
    }
  }
}
