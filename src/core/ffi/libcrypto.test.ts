import { describe, expect, test } from 'bun:test'
import { ChaCha20, Poly1305 } from './libcrypto'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const SUNSCREEN = Buffer.from(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
)

describe('libcrypto ChaCha20 and Poly1305 against RFC 8439', () => {
  test.each([
    {
      name: 'A.1 #1: block 0 of the all-zero key and nonce',
      key: '00'.repeat(32),
      iv: '00'.repeat(16),
      input: Buffer.alloc(64),
      out: `76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7
            da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586`,
    },
    {
      name: '2.4.2: encryption from counter 1',
      key: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
      iv: '01000000 000000000000004a00000000',
      input: SUNSCREEN,
      out: `6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b
            f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8
            07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736
            5af90bbf74a35be6b40b8eedf2785e42874d`,
    },
    {
      name: '2.6.2: Poly1305 key generation (block 0, a 64-bit nonce as OpenSSH uses it)',
      key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f',
      iv: '00000000 000000000001020304050607',
      input: Buffer.alloc(32),
      out: '8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646',
    },
  ])('$name', ({ key, iv, input, out }) => {
    const c = new ChaCha20(hex(key))
    c.start(hex(iv))
    const data = Buffer.from(input)
    c.update(data)
    expect(data.toString('hex')).toBe(hex(out).toString('hex'))
    c.free()
  })

  test('the keystream continues across update calls and restarts with start()', () => {
    const c = new ChaCha20(hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'))
    const iv = hex('01000000 000000000000004a00000000')
    const whole = Buffer.from(SUNSCREEN)
    c.start(iv)
    c.update(whole)
    const pieces = Buffer.from(SUNSCREEN)
    c.start(iv)
    for (const [a, b] of [
      [0, 1],
      [1, 64],
      [64, 70],
      [70, SUNSCREEN.length],
    ])
      c.update(pieces.subarray(a, b))
    expect(pieces).toEqual(whole)
  })

  test('2.5.2: Poly1305 tag, and a fresh key per init', () => {
    const p = new Poly1305()
    const tag = new Uint8Array(16)
    for (let i = 0; i < 2; i++) {
      p.init(hex('85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b'))
      p.update(Buffer.from('Cryptographic Forum '))
      p.update(Buffer.from('Research Group'))
      p.final(tag)
      expect(Buffer.from(tag).toString('hex')).toBe('a8061dc1305136c6c22b8baf0c0127a9')
    }
    p.free()
  })
})
