import { describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { ChaChaPolyCipher, ChaChaPolyDecipher } from './chacha-poly'
import { binding } from './ssh2-binding'

// an independent implementation of the OpenSSH construction: asyncssh (Debian python3-asyncssh)
const PYTHON = '/usr/bin/python3'
const ASYNCSSH = `
import json, sys, warnings
warnings.simplefilter('ignore')
from asyncssh.crypto.chacha import ChachaCipher
out = []
for c in json.load(sys.stdin):
    sealed, tag = ChachaCipher(bytes.fromhex(c['key'])).encrypt_and_sign(
        bytes.fromhex(c['packet'][:8]), bytes.fromhex(c['packet'][8:]), c['seqno'].to_bytes(8, 'big'))
    out.append((sealed + tag).hex())
print(json.dumps(out))
`
const hasAsyncssh =
  existsSync(PYTHON) &&
  Bun.spawnSync([PYTHON, '-c', 'import asyncssh.crypto.chacha']).exitCode === 0

/** an SSH binary packet: length, padding length, payload, padding (a multiple of 8 after the length) */
function plainPacket(payloadLen: number): Uint8Array {
  let pad = 8 - ((1 + payloadLen) % 8)
  if (pad < 4) pad += 8
  const p = crypto.getRandomValues(new Uint8Array(4 + 1 + payloadLen + pad))
  new DataView(p.buffer).setUint32(0, 1 + payloadLen + pad)
  p[4] = pad
  return p
}

function seal(key: Uint8Array, plain: Uint8Array, seqno: number): Uint8Array {
  const packet = new Uint8Array(plain.length + 16)
  packet.set(plain)
  const c = new ChaChaPolyCipher(key)
  c.encrypt(packet, seqno)
  c.free()
  return packet
}

/** what ssh2's ChaChaPolyDecipherBinding does with the binding: length first, then the body */
function open(key: Uint8Array, sealed: Uint8Array, seqno: number): Uint8Array {
  const d = new ChaChaPolyDecipher(key)
  const len = d.decryptLen(sealed.subarray(0, 4), seqno)
  const body = sealed.slice(4, 4 + len)
  d.decrypt(body, sealed.subarray(4 + len, 4 + len + 16), seqno)
  d.free()
  return body
}

const CASES = [
  { seqno: 0, payload: 0 },
  { seqno: 1, payload: 27 },
  { seqno: 3, payload: 32768 },
  { seqno: 0x7fffffff, payload: 100 },
  { seqno: 0xffffffff, payload: 1000 },
]

describe('chacha20-poly1305@openssh.com (PROTOCOL.chacha20poly1305)', () => {
  test('the binding loads where libcrypto.so.3 is', () => {
    expect(binding()?.ChaChaPolyCipher).toBe(ChaChaPolyCipher)
  })

  test.skipIf(!hasAsyncssh)("sealed packets equal asyncssh's, and asyncssh's open here", () => {
    const cases = CASES.map((c) => ({
      ...c,
      key: crypto.getRandomValues(new Uint8Array(64)),
      plain: plainPacket(c.payload),
    }))
    const py = Bun.spawnSync([PYTHON, '-c', ASYNCSSH], {
      stdin: Buffer.from(
        JSON.stringify(
          cases.map((c) => ({
            key: Buffer.from(c.key).toString('hex'),
            seqno: c.seqno,
            packet: Buffer.from(c.plain).toString('hex'),
          })),
        ),
      ),
    })
    expect(py.stderr.toString()).toBe('')
    const theirs = (JSON.parse(py.stdout.toString()) as string[]).map((h) => Buffer.from(h, 'hex'))
    cases.forEach((c, i) => {
      expect(Buffer.from(seal(c.key, c.plain, c.seqno)).toString('hex')).toBe(
        theirs[i]!.toString('hex'),
      )
      expect(open(c.key, theirs[i]!, c.seqno)).toEqual(c.plain.subarray(4))
    })
  })

  test.each([
    ['the encrypted length', 2],
    ['the padding length', 4],
    ['the payload', 40],
    ['the tag', -1],
  ])('a flipped bit in %s fails the tag check before anything is decrypted', (_, at) => {
    const key = crypto.getRandomValues(new Uint8Array(64))
    const sealed = seal(key, plainPacket(50), 9)
    sealed[at < 0 ? sealed.length + at : at]! ^= 0x10
    const d = new ChaChaPolyDecipher(key)
    const len = d.decryptLen(sealed.subarray(0, 4), 9)
    // a tampered length decrypts to garbage; ssh2 rejects sizes out of range before this point
    const body = new Uint8Array(sealed.subarray(4, sealed.length - 16))
    const before = body.slice()
    expect(() => d.decrypt(body, sealed.subarray(sealed.length - 16), 9)).toThrow('Invalid MAC')
    expect(body).toEqual(before)
    if (at >= 4) expect(len).toBe(sealed.length - 20)
  })

  test('a packet opened with another sequence number fails', () => {
    const key = crypto.getRandomValues(new Uint8Array(64))
    const plain = plainPacket(64)
    const sealed = seal(key, plain, 5)
    const d = new ChaChaPolyDecipher(key)
    d.decryptLen(sealed.subarray(0, 4), 6)
    const body = sealed.slice(4, plain.length)
    expect(() => d.decrypt(body, sealed.subarray(plain.length), 6)).toThrow('Invalid MAC')
  })

  test('one cipher object seals many packets (contexts reused per packet)', () => {
    const key = crypto.getRandomValues(new Uint8Array(64))
    const c = new ChaChaPolyCipher(key)
    const d = new ChaChaPolyDecipher(key)
    for (let seqno = 0; seqno < 50; seqno++) {
      const plain = plainPacket(seqno * 37)
      const packet = new Uint8Array(plain.length + 16)
      packet.set(plain)
      c.encrypt(packet, seqno)
      const len = d.decryptLen(packet.subarray(0, 4), seqno)
      const body = packet.slice(4, 4 + len)
      d.decrypt(body, packet.subarray(4 + len), seqno)
      expect(Buffer.from(body)).toEqual(Buffer.from(plain.subarray(4)))
    }
  })
})
