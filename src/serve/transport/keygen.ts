/**
 * ed25519 key pairs in OpenSSH's own format (PROTOCOL.key in OpenSSH), written here rather than
 * with ssh2's `utils.generateKeyPairSync`: ssh2 strips every leading zero byte from the DER
 * BIT STRING to drop its "unused bits" octet, so a public key that itself starts with 0x00
 * (1 key in 256) loses bytes and the private key it writes cannot be parsed back ("Malformed
 * OpenSSH private key"). That was the flaky agent test, and the same 1-in-256 chance of an
 * unusable generated host key.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'

export interface KeyPair {
  /** unencrypted `-----BEGIN OPENSSH PRIVATE KEY-----` text */
  private: string
  /** `ssh-ed25519 AAAA… comment` */
  public: string
}

const KEY_TYPE = 'ssh-ed25519'

/** SSH wire `string`: uint32 length, then the bytes (RFC 4251 §5). */
export function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  const len = Buffer.alloc(4)
  len.writeUInt32BE(bytes.length)
  return Buffer.concat([len, bytes])
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

/** The raw 32-byte seed and public key, from the JWK export (no DER parsing to get wrong). */
function rawEd25519(): { seed: Buffer; pub: Buffer } {
  const { privateKey } = generateKeyPairSync('ed25519')
  const jwk = privateKey.export({ format: 'jwk' })
  const seed = Buffer.from(jwk.d!, 'base64url')
  const pub = Buffer.from(jwk.x!, 'base64url')
  if (seed.length !== 32 || pub.length !== 32) throw new Error('ed25519 key of unexpected size')
  return { seed, pub }
}

/** Formats a seed and public key as an OpenSSH key pair (exported for the format tests). */
export function formatEd25519(seed: Buffer, pub: Buffer, comment: string): KeyPair {
  const pubBlob = Buffer.concat([sshString(KEY_TYPE), sshString(pub)])
  const check = randomBytes(4)
  let priv = Buffer.concat([
    check,
    check,
    sshString(KEY_TYPE),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ])
  // pad to the cipher block size ("none": 8) with 1, 2, 3, …
  const pad = (8 - (priv.length % 8)) % 8
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))])
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(pubBlob),
    sshString(priv),
  ])
  const b64 = body.toString('base64').replace(/.{1,70}/g, '$&\n')
  return {
    private: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`,
    public: `${KEY_TYPE} ${pubBlob.toString('base64')}${comment ? ` ${comment}` : ''}`,
  }
}

export function generateEd25519(comment = ''): KeyPair {
  const { seed, pub } = rawEd25519()
  return formatEd25519(seed, pub, comment)
}
