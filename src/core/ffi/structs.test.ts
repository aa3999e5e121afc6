import { describe, expect, test } from 'bun:test'
import * as S from './structs'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

describe('struct layouts', () => {
  test.each([
    [3, 22, '2800000016000000030000000000000000'.slice(0, 32)],
    [4711, 22, '28000000160000006712000000000000'],
    [2, 0xfffffffe, '2800' + '0000' + 'feffffff' + '02000000' + '00000000'],
  ])('sockaddr_vm for cid %d port %d is 16 bytes in host order', (cid, port, expected) => {
    const sa = S.sockaddrVm(cid, port)
    expect(sa.byteLength).toBe(16)
    expect(hex(sa)).toBe(expected)
  })

  test('sockaddr_un holds family, path and its NUL terminator', () => {
    const sa = S.sockaddrUn('/run/x')
    expect(sa.byteLength).toBe(2 + 6 + 1)
    expect(hex(sa)).toBe(`0100${Buffer.from('/run/x').toString('hex')}00`)
  })

  test('sockaddr_un refuses paths that do not fit sun_path', () => {
    expect(() => S.sockaddrUn(`/${'a'.repeat(106)}`)).not.toThrow()
    expect(() => S.sockaddrUn(`/${'a'.repeat(107)}`)).toThrow(RangeError)
  })

  test('sockaddr_in and sockaddr_in6 put the port in network order', () => {
    expect(hex(S.sockaddrIn(new Uint8Array([127, 0, 0, 1]), 22))).toBe(
      '020000167f0000010000000000000000',
    )
    const six = S.sockaddrIn6(
      new Uint8Array(16).fill(0).map((_, i) => (i === 15 ? 1 : 0)),
      2222,
      3,
    )
    expect(six.byteLength).toBe(28)
    expect(hex(six.subarray(0, 4))).toBe('0a0008ae')
    expect(six[23]).toBe(1)
    expect(new DataView(six.buffer).getUint32(24, true)).toBe(3)
  })

  test('one SCM_RIGHTS control message is CMSG_SPACE(4) = 24 bytes with cmsg_len 20', () => {
    const c = S.cmsgRights(7)
    expect(hex(c)).toBe('1400000000000000' + '01000000' + '01000000' + '07000000' + '00000000')
    expect(S.cmsgRightsFd(c, 20)).toBe(7)
    expect(S.cmsgRightsFd(c, 0)).toBeUndefined()
  })

  test('msghdr places iov, iovlen, control and controllen at the glibc offsets', () => {
    const m = new DataView(S.msghdr(0x1000, 0x2000, 24).buffer)
    expect(m.byteLength).toBe(56)
    expect(m.getBigUint64(16, true)).toBe(0x1000n)
    expect(m.getBigUint64(24, true)).toBe(1n)
    expect(m.getBigUint64(32, true)).toBe(0x2000n)
    expect(m.getBigUint64(40, true)).toBe(24n)
  })
})
