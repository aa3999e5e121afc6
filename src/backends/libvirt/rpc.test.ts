import { describe, expect, test } from 'bun:test'
import {
  decodeError,
  decodeHeader,
  encodePacket,
  LibvirtError,
  PacketSplitter,
  VIR_NET_CALL,
  VIR_NET_OK,
} from './rpc'
import { XdrError, XdrReader, XdrWriter } from './xdr'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replaceAll(' ', ''), 'hex'))
const call = {
  prog: 0x20008086,
  vers: 1,
  proc: 66,
  type: VIR_NET_CALL,
  serial: 1,
  status: VIR_NET_OK,
}

describe('encodePacket', () => {
  test('writes the length (itself included), the header, then the payload', () => {
    expect(hex(encodePacket(call))).toBe(
      '0000001c 20008086 00000001 00000042 00000000 00000001 00000000'.replaceAll(' ', ''),
    )
    expect(hex(encodePacket({ ...call, proc: 23, serial: 2 }, (w) => w.string('vm')))).toBe(
      '00000024 20008086 00000001 00000017 00000000 00000002 00000000 00000002 766d0000'.replaceAll(
        ' ',
        '',
      ),
    )
  })

  test('round-trips through decodeHeader', () => {
    const packet = encodePacket({ ...call, proc: 273, type: 1, serial: 0xfffffffe, status: 1 })
    expect(decodeHeader(new XdrReader(packet, 4))).toEqual({
      ...call,
      proc: 273,
      type: 1,
      serial: 0xfffffffe,
      status: 1,
    })
  })
})

describe('PacketSplitter', () => {
  const a = encodePacket(call)
  const b = encodePacket({ ...call, serial: 2 }, (w) => w.string('a longer payload'))
  const stream = new Uint8Array([...a, ...b])

  test.each([1, 3, 4, 5, 27, 28, 29, 40, stream.byteLength])(
    'reassembles two packets arriving in chunks of %p bytes',
    (size) => {
      const s = new PacketSplitter()
      const out: Uint8Array[] = []
      for (let i = 0; i < stream.byteLength; i += size)
        out.push(...s.push(stream.slice(i, i + size)))
      expect(out.map(hex)).toEqual([hex(a.subarray(4)), hex(b.subarray(4))])
    },
  )

  test.each([
    ['shorter than a header', '00000004'],
    ['over the message limit', '7fffffff'],
  ])('refuses a length %s', (_, data) => {
    expect(() => new PacketSplitter().push(bytes(data))).toThrow(XdrError)
  })
})

describe('decodeError', () => {
  const error = (message?: string) => {
    const w = new XdrWriter()
      .i32(42)
      .i32(10)
      .optional(message, (x, m) => x.string(m))
    // level, dom, str1-3, int1, int2, net: legacy fields burrow does not read
    return new XdrReader(w.i32(2).u32(0).u32(0).u32(0).u32(0).i32(0).i32(0).u32(0).bytes())
  }

  test('keeps code, domain and message', () => {
    const err = decodeError(
      error("Domain not found: no domain with matching name 'x'"),
      'virDomainLookupByName',
    )
    expect(err).toBeInstanceOf(LibvirtError)
    expect([err.call, err.code, err.domain, err.message]).toEqual([
      'virDomainLookupByName',
      42,
      10,
      "Domain not found: no domain with matching name 'x'",
    ])
  })

  test('words a missing message', () => {
    expect(decodeError(error(), 'x').message).toBe('unknown error (code 42)')
  })
})
