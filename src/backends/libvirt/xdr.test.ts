import { describe, expect, test } from 'bun:test'
import { XdrError, XdrReader, XdrWriter } from './xdr'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replaceAll(' ', ''), 'hex'))

describe('XdrWriter', () => {
  test.each([
    ['u32 0', (w: XdrWriter) => w.u32(0), '00000000'],
    ['u32 max', (w: XdrWriter) => w.u32(0xffffffff), 'ffffffff'],
    ['the remote program number', (w: XdrWriter) => w.u32(0x20008086), '20008086'],
    ['i32 -1', (w: XdrWriter) => w.i32(-1), 'ffffffff'],
    ['i32 min', (w: XdrWriter) => w.i32(-0x80000000), '80000000'],
    ['an empty string', (w: XdrWriter) => w.string(''), '00000000'],
    ['a string padded to 4', (w: XdrWriter) => w.string('vm'), '00000002 766d0000'],
    ['a string of 4 bytes, no padding', (w: XdrWriter) => w.string('test'), '00000004 74657374'],
    ['a string of 5 bytes', (w: XdrWriter) => w.string('qemu:'), '00000005 71656d753a000000'],
    ['UTF-8 bytes, not UTF-16 units', (w: XdrWriter) => w.string('é'), '00000002 c3a90000'],
    ['fixed opaque, no length', (w: XdrWriter) => w.fixedOpaque(bytes('010203'), 3), '01020300'],
    ['variable opaque', (w: XdrWriter) => w.opaque(bytes('ff')), '00000001 ff000000'],
    [
      'an absent optional',
      (w: XdrWriter) => w.optional(undefined, (x, s: string) => x.string(s)),
      '00000000',
    ],
    [
      'a present optional',
      (w: XdrWriter) => w.optional('a', (x, s) => x.string(s)),
      '00000001 00000001 61000000',
    ],
    [
      'connect open args',
      (w: XdrWriter) => w.optional('qemu:///system', (x, s) => x.string(s)).u32(1),
      '00000001 0000000e 71656d753a2f2f2f73797374656d0000 00000001',
    ],
  ])('encodes %s', (_, write, want) => {
    const w = new XdrWriter()
    write(w)
    expect(hex(w.bytes())).toBe(want.replaceAll(' ', ''))
  })

  test('grows past its first buffer', () => {
    const long = 'x'.repeat(1000)
    const r = new XdrReader(new XdrWriter().u32(7).string(long).u32(9).bytes())
    expect([r.u32(), r.string(2000), r.u32()]).toEqual([7, long, 9])
  })

  test.each([
    ['a negative u32', (w: XdrWriter) => w.u32(-1)],
    ['a u32 beyond 32 bits', (w: XdrWriter) => w.u32(2 ** 32)],
    ['an i32 beyond 31 bits', (w: XdrWriter) => w.i32(2 ** 31)],
    ['a fraction', (w: XdrWriter) => w.i32(1.5)],
    ['fixed opaque of the wrong size', (w: XdrWriter) => w.fixedOpaque(new Uint8Array(15), 16)],
  ])('refuses %s', (_, write) => {
    expect(() => write(new XdrWriter())).toThrow(RangeError)
  })
})

describe('XdrReader', () => {
  test.each([
    ['u32', '20008086', (r: XdrReader) => r.u32(), 0x20008086],
    ['i32 -1', 'ffffffff', (r: XdrReader) => r.i32(), -1],
    ['a padded string', '00000002 766d0000', (r: XdrReader) => r.string(10), 'vm'],
    ['an empty string', '00000000', (r: XdrReader) => r.string(10), ''],
    ['an absent optional', '00000000', (r: XdrReader) => r.optional((x) => x.u32()), undefined],
    ['a present optional', '00000001 0000002a', (r: XdrReader) => r.optional((x) => x.u32()), 42],
    [
      'an array',
      '00000002 00000000 00000002',
      (r: XdrReader) => r.array(20, (x) => x.i32()),
      [0, 2],
    ],
    ['an empty array', '00000000', (r: XdrReader) => r.array(20, (x) => x.i32()), []],
    ['fixed opaque', '01020304 05000000', (r: XdrReader) => [...r.fixedOpaque(5)], [1, 2, 3, 4, 5]],
  ])('decodes %s', (_, data, read, want) => {
    const r = new XdrReader(bytes(data))
    expect(read(r)).toEqual(want)
    expect(r.remaining).toBe(0)
  })

  test.each([
    [
      'a short u32',
      '000000',
      (r: XdrReader) => r.u32(),
      'truncated XDR data: need 4 bytes at offset 0, have 3',
    ],
    [
      'a string longer than the data',
      '00000008 6162',
      (r: XdrReader) => r.string(100),
      'truncated XDR data',
    ],
    [
      'a string without its padding',
      '00000003 616263',
      (r: XdrReader) => r.string(100),
      'truncated XDR data',
    ],
    [
      'a string over its limit',
      '00000005 6162636465000000',
      (r: XdrReader) => r.string(4),
      'XDR length 5 exceeds its limit 4',
    ],
    [
      'an array over its limit',
      '00000015',
      (r: XdrReader) => r.array(20, (x) => x.i32()),
      'XDR array of 21 items exceeds its limit 20',
    ],
    [
      'a bool that is neither 0 nor 1',
      '00000002',
      (r: XdrReader) => r.optional((x) => x.u32()),
      'bad XDR bool 2',
    ],
  ])('refuses %s', (_, data, read, message) => {
    expect(() => read(new XdrReader(bytes(data)))).toThrow(XdrError)
    expect(() => read(new XdrReader(bytes(data)))).toThrow(message)
  })

  test('reads from an offset inside a larger buffer', () => {
    const whole = bytes('ffffffff 00000001 00000007')
    const r = new XdrReader(whole.subarray(4), 4)
    expect([r.offset, r.u32(), r.remaining]).toEqual([4, 7, 0])
  })
})
