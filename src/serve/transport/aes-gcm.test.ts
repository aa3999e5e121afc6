import { describe, expect, test } from 'bun:test'
import { createCipheriv } from 'node:crypto'
import { AESGCMCipher, AESGCMDecipher } from './aes-gcm'

/** RFC 5647 by node:crypto, as ssh2 does it without a binding: a new cipher per packet */
function nodeSeal(name: string, key: Uint8Array, iv: Uint8Array, plain: Uint8Array): Buffer {
  const c = createCipheriv(name as 'aes-128-gcm', key, iv)
  c.setAAD(plain.subarray(0, 4))
  const body = Buffer.concat([c.update(plain.subarray(4)), c.final()])
  const out = Buffer.concat([plain.subarray(0, 4), body, c.getAuthTag()])
  // the invocation counter: the IV's last 8 bytes, big-endian
  const v = new DataView(iv.buffer, iv.byteOffset)
  v.setBigUint64(4, v.getBigUint64(4) + 1n)
  return out
}

function plainPacket(payloadLen: number): Uint8Array {
  let pad = 16 - ((1 + payloadLen) % 16)
  if (pad < 4) pad += 16
  const p = crypto.getRandomValues(new Uint8Array(4 + 1 + payloadLen + pad))
  new DataView(p.buffer).setUint32(0, 1 + payloadLen + pad)
  p[4] = pad
  return p
}

describe.each([
  ['aes-128-gcm', 16],
  ['aes-256-gcm', 32],
])('%s on libcrypto (RFC 5647)', (name, keyLen) => {
  test("packets sealed in sequence equal node:crypto's, across an IV counter carry, and open", () => {
    const key = crypto.getRandomValues(new Uint8Array(keyLen))
    const iv = crypto.getRandomValues(new Uint8Array(12))
    // low counter bytes near the wrap of a byte and of 32 bits
    iv.set([0xff, 0xff, 0xff, 0xfe], 8)
    const ours = new AESGCMCipher(name, key, iv.slice())
    const dec = new AESGCMDecipher(name, key, iv.slice())
    const theirsIv = iv.slice()
    for (const size of [0, 11, 100, 32768, 5]) {
      const plain = plainPacket(size)
      const packet = new Uint8Array(plain.length + 16)
      packet.set(plain)
      ours.encrypt(packet)
      expect(Buffer.from(packet).toString('hex')).toBe(
        nodeSeal(name, key, theirsIv, plain).toString('hex'),
      )
      const len = plain.length - 4
      const body = packet.slice(4, 4 + len)
      dec.decrypt(body, len, packet.subarray(4 + len))
      expect(Buffer.from(body)).toEqual(Buffer.from(plain.subarray(4)))
    }
    ours.free()
    dec.free()
  })

  test('a flipped bit in the body, the length or the tag fails', () => {
    const key = crypto.getRandomValues(new Uint8Array(keyLen))
    const iv = crypto.getRandomValues(new Uint8Array(12))
    for (const at of [1, 10, -1]) {
      const plain = plainPacket(40)
      const packet = new Uint8Array(plain.length + 16)
      packet.set(plain)
      new AESGCMCipher(name, key, iv.slice()).encrypt(packet)
      packet[at < 0 ? packet.length + at : at]! ^= 1
      const len = new DataView(packet.buffer).getUint32(0)
      const body = packet.slice(4, plain.length)
      const d = new AESGCMDecipher(name, key, iv.slice())
      expect(() => d.decrypt(body, len, packet.subarray(plain.length))).toThrow('Invalid MAC')
    }
  })
})
