/**
 * Signatures of FIDO security keys (`sk-ecdsa-sha2-nistp256@openssh.com`,
 * `sk-ssh-ed25519@openssh.com`), which ssh2 cannot parse. OpenSSH's PROTOCOL.u2f:
 *   public key: string type, [string "nistp256",] string point or key, string application
 *   signature:  string type, string ECDSA (mpint r, mpint s) or Ed25519 signature, byte flags,
 *               uint32 counter
 *   signed:     SHA256(application) || flags || counter || SHA256(message)
 * ssh2 hands the signature on without its type and the inner length (handlers.misc.js), so
 * `sig` here starts at the inner signature's bytes. What the flags must say is policy.ts's.
 */
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto'

export const SK_KEY_TYPES = [
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'sk-ssh-ed25519@openssh.com',
] as const

export const isSkKeyType = (type: string): boolean =>
  (SK_KEY_TYPES as readonly string[]).includes(type)

/** SSH wire strings in order; undefined when the buffer is short or has bytes left over. */
function strings(
  buf: Buffer,
  count: number,
  rest: number,
): { parts: Buffer[]; tail: Buffer } | undefined {
  const parts: Buffer[] = []
  let off = 0
  for (let i = 0; i < count; i++) {
    if (off + 4 > buf.length) return undefined
    const len = buf.readUInt32BE(off)
    if (off + 4 + len > buf.length) return undefined
    parts.push(buf.subarray(off + 4, off + 4 + len))
    off += 4 + len
  }
  const tail = buf.subarray(off)
  return tail.length === rest ? { parts, tail } : undefined
}

const b64url = (b: Buffer) => b.toString('base64url')

/** An mpint as exactly 32 big-endian bytes (P-256), or undefined when it does not fit. */
function scalar(m: Buffer): Buffer | undefined {
  const v = m[0] === 0 ? m.subarray(1) : m
  if (v.length > 32) return undefined
  return Buffer.concat([Buffer.alloc(32 - v.length), v])
}

interface SkKey {
  key: KeyObject
  application: Buffer
  ecdsa: boolean
}

function parseSkKey(blob: Buffer): SkKey | undefined {
  const type = blob.length >= 4 ? blob.subarray(4, 4 + blob.readUInt32BE(0)).toString() : ''
  if (type === 'sk-ecdsa-sha2-nistp256@openssh.com') {
    const p = strings(blob, 4, 0)?.parts
    const q = p?.[2]
    if (!p || p[1]!.toString() !== 'nistp256' || q?.length !== 65 || q[0] !== 4) return undefined
    const jwk = { kty: 'EC', crv: 'P-256', x: b64url(q.subarray(1, 33)), y: b64url(q.subarray(33)) }
    return { key: createPublicKey({ key: jwk, format: 'jwk' }), application: p[3]!, ecdsa: true }
  }
  if (type === 'sk-ssh-ed25519@openssh.com') {
    const p = strings(blob, 3, 0)?.parts
    if (!p || p[1]!.length !== 32) return undefined
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: b64url(p[1]!) }
    return { key: createPublicKey({ key: jwk, format: 'jwk' }), application: p[2]!, ecdsa: false }
  }
  return undefined
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest()

/**
 * Checks a security-key signature over `message` (the session id plus the userauth request)
 * by the key `blob`; its flags when the signature is good, undefined otherwise.
 */
export function verifySk(
  blob: Buffer,
  sig: Buffer,
  message: Buffer,
): { flags: number; counter: number } | undefined {
  let k: SkKey | undefined
  try {
    k = parseSkKey(blob)
  } catch {
    return undefined
  }
  if (!k) return undefined
  let raw: Buffer | undefined
  let tail: Buffer | undefined
  if (k.ecdsa) {
    const p = strings(sig, 2, 5)
    const [r, s] = p ? [scalar(p.parts[0]!), scalar(p.parts[1]!)] : []
    if (r && s) [raw, tail] = [Buffer.concat([r, s]), p!.tail]
  } else if (sig.length === 64 + 5) {
    ;[raw, tail] = [sig.subarray(0, 64), sig.subarray(64)]
  }
  if (!raw || !tail) return undefined
  const signed = Buffer.concat([sha256(k.application), tail, sha256(message)])
  const good = k.ecdsa
    ? verify('sha256', signed, { key: k.key, dsaEncoding: 'ieee-p1363' }, raw)
    : verify(null, signed, k.key, raw)
  return good ? { flags: tail[0]!, counter: tail.readUInt32BE(1) } : undefined
}
