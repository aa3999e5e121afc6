/**
 * XDR (RFC 4506), the encoding of libvirt's RPC protocol, limited to the types burrow's calls use:
 * int, unsigned int, fixed and variable-length opaque, string, optional data (`*`) and arrays.
 * Every item is big-endian and padded with zero bytes to a multiple of four (RFC 4506 §3).
 */

/** Malformed or truncated XDR data: the peer does not speak the protocol burrow expects. */
export class XdrError extends Error {
  override name = 'XdrError'
}

const pad = (n: number) => (4 - (n % 4)) % 4
const utf8 = new TextEncoder()
// libvirt's strings are UTF-8 by convention; a bad byte should not make a whole reply unreadable
const text = new TextDecoder('utf-8')

export class XdrWriter {
  private buf = new Uint8Array(256)
  private view = new DataView(this.buf.buffer)
  private len = 0

  private reserve(n: number): number {
    if (this.len + n > this.buf.byteLength) {
      const next = new Uint8Array(Math.max(this.buf.byteLength * 2, this.len + n))
      next.set(this.buf.subarray(0, this.len))
      this.buf = next
      this.view = new DataView(next.buffer)
    }
    const at = this.len
    this.len += n
    return at
  }

  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
      throw new RangeError(`not an unsigned int: ${value}`)
    const at = this.reserve(4) // may replace this.view: call it first
    this.view.setUint32(at, value)
    return this
  }

  i32(value: number): this {
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff)
      throw new RangeError(`not an int: ${value}`)
    const at = this.reserve(4) // may replace this.view: call it first
    this.view.setInt32(at, value)
    return this
  }

  /** `opaque name[n]`: exactly `n` bytes, no length word (RFC 4506 §4.9). */
  fixedOpaque(bytes: Uint8Array, n: number): this {
    if (bytes.byteLength !== n) throw new RangeError(`expected ${n} bytes, got ${bytes.byteLength}`)
    const at = this.reserve(n + pad(n))
    this.buf.set(bytes, at)
    this.buf.fill(0, at + n, at + n + pad(n))
    return this
  }

  /** `opaque name<>`: a length word, then the bytes (RFC 4506 §4.10). */
  opaque(bytes: Uint8Array): this {
    return this.u32(bytes.byteLength).fixedOpaque(bytes, bytes.byteLength)
  }

  /** `string name<>`: the UTF-8 bytes as variable-length opaque (RFC 4506 §4.11). */
  string(value: string): this {
    return this.opaque(utf8.encode(value))
  }

  /** `type *name`: a bool saying whether the value follows (RFC 4506 §4.19). */
  optional<T>(value: T | undefined, write: (w: this, value: T) => void): this {
    this.u32(value === undefined ? 0 : 1)
    if (value !== undefined) write(this, value)
    return this
  }

  /** The bytes written so far (a view, valid until the next write). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len)
  }
}

export class XdrReader {
  private readonly view: DataView

  constructor(
    private readonly buf: Uint8Array,
    private pos = 0,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  get offset(): number {
    return this.pos
  }

  get remaining(): number {
    return this.buf.byteLength - this.pos
  }

  private take(n: number): number {
    if (n > this.remaining)
      throw new XdrError(
        `truncated XDR data: need ${n} bytes at offset ${this.pos}, have ${this.remaining}`,
      )
    const at = this.pos
    this.pos += n
    return at
  }

  u32(): number {
    return this.view.getUint32(this.take(4))
  }

  i32(): number {
    return this.view.getInt32(this.take(4))
  }

  fixedOpaque(n: number): Uint8Array {
    const at = this.take(n + pad(n))
    return this.buf.slice(at, at + n)
  }

  /** Variable-length opaque of at most `max` bytes, the bound the .x file declares. */
  opaque(max: number): Uint8Array {
    const n = this.u32()
    if (n > max) throw new XdrError(`XDR length ${n} exceeds its limit ${max}`)
    return this.fixedOpaque(n)
  }

  string(max: number): string {
    return text.decode(this.opaque(max))
  }

  optional<T>(read: (r: this) => T): T | undefined {
    const present = this.u32()
    if (present > 1) throw new XdrError(`bad XDR bool ${present}`)
    return present ? read(this) : undefined
  }

  /** `type name<max>`: a count, then that many items. */
  array<T>(max: number, read: (r: this) => T): T[] {
    const n = this.u32()
    if (n > max) throw new XdrError(`XDR array of ${n} items exceeds its limit ${max}`)
    return Array.from({ length: n }, () => read(this))
  }
}
