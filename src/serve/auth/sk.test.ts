import { describe, expect, test } from 'bun:test'
import { createHash, generateKeyPairSync, sign } from 'node:crypto'
import { sshString as str } from '../transport/keygen'
import { verifySk } from './sk'

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest()
const mpint = (b: Buffer) => str(b[0]! & 0x80 ? Buffer.concat([Buffer.alloc(1), b]) : b)
const APP = 'ssh:'

/** A key and a signer that sign as an authenticator does (PROTOCOL.u2f), for one algorithm. */
function authenticator(kind: 'ecdsa' | 'ed25519') {
  if (kind === 'ecdsa') {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const q = publicKey.export({ format: 'der', type: 'spki' }).subarray(-65)
    const blob = Buffer.concat([
      str('sk-ecdsa-sha2-nistp256@openssh.com'),
      str('nistp256'),
      str(q),
      str(APP),
    ])
    const inner = (signed: Buffer) => {
      const rs = sign('sha256', signed, { key: privateKey, dsaEncoding: 'ieee-p1363' })
      return Buffer.concat([mpint(rs.subarray(0, 32)), mpint(rs.subarray(32))])
    }
    return { blob, inner }
  }
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const pk = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
  const blob = Buffer.concat([str('sk-ssh-ed25519@openssh.com'), str(pk), str(APP)])
  return { blob, inner: (signed: Buffer) => sign(null, signed, privateKey) }
}

/** The signature as ssh2 hands it on: the inner signature's bytes, flags, counter. */
function signature(
  a: ReturnType<typeof authenticator>,
  message: Buffer,
  flags: number,
  counter = 7,
  app = APP,
): Buffer {
  const tail = Buffer.alloc(5)
  tail[0] = flags
  tail.writeUInt32BE(counter, 1)
  return Buffer.concat([a.inner(Buffer.concat([sha256(app), tail, sha256(message)])), tail])
}

describe('security key signatures', () => {
  const message = Buffer.from('session id and userauth request')
  for (const kind of ['ecdsa', 'ed25519'] as const) {
    const a = authenticator(kind)
    test.each([
      ['a good signature with a touch', signature(a, message, 1), { flags: 1, counter: 7 }],
      [
        'a good signature without a touch (the flags are policy.ts’s)',
        signature(a, message, 0, 9),
        { flags: 0, counter: 9 },
      ],
      [
        'flags changed after signing',
        (() => {
          const s = signature(a, message, 0)
          s[s.length - 5] = 1
          return s
        })(),
        undefined,
      ],
      ['another application', signature(a, message, 1, 7, 'ssh:other'), undefined],
      ['another message', signature(a, Buffer.from('replayed'), 1), undefined],
      ['no flags and counter', signature(a, message, 1).subarray(0, -5), undefined],
      ['trailing bytes', Buffer.concat([signature(a, message, 1), Buffer.alloc(1)]), undefined],
    ])(`${kind}: %s`, (_name, sig, expected) => {
      expect(verifySk(a.blob, sig, message)).toEqual(expected)
    })
  }

  test('a signature of one key does not verify with another, and garbage keys are refused', () => {
    const [a, b] = [authenticator('ecdsa'), authenticator('ecdsa')]
    expect(verifySk(b.blob, signature(a, Buffer.from('m'), 1), Buffer.from('m'))).toBeUndefined()
    expect(
      verifySk(Buffer.from('junk'), signature(a, Buffer.from('m'), 1), Buffer.from('m')),
    ).toBeUndefined()
    expect(
      verifySk(
        Buffer.concat([str('sk-ecdsa-sha2-nistp256@openssh.com'), str('nistp384')]),
        Buffer.alloc(80),
        Buffer.from('m'),
      ),
    ).toBeUndefined()
  })
})
