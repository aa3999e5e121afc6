import { expect, test } from 'bun:test'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { utils } from 'ssh2'
import { formatEd25519, generateEd25519 } from './keygen'

/** A real key pair whose public key starts with 0x00: the case ssh2's generator breaks. */
function zeroLeadingKey(): { seed: Buffer; pub: Buffer } {
  for (let i = 0; i < 20000; i++) {
    const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' })
    const pub = Buffer.from(jwk.x!, 'base64url')
    if (pub[0] === 0) return { seed: Buffer.from(jwk.d!, 'base64url'), pub }
  }
  throw new Error('no zero-leading key in 20000 tries')
}

function parses(pem: string, pub: string): void {
  const key = utils.parseKey(pem)
  if (key instanceof Error) throw key
  const k = Array.isArray(key) ? key[0]! : key
  expect(k.type).toBe('ssh-ed25519')
  expect(k.isPrivateKey()).toBe(true)
  expect(`ssh-ed25519 ${k.getPublicSSH().toString('base64')}`).toBe(
    pub.split(' ').slice(0, 2).join(' '),
  )
  // and it signs what its public half verifies
  const sig = k.sign(Buffer.from('data'))
  expect(k.verify(Buffer.from('data'), sig as Buffer)).toBe(true)
}

test('a public key with a leading zero byte survives (ssh2 generateKeyPairSync drops it)', () => {
  const { seed, pub } = zeroLeadingKey()
  const pair = formatEd25519(seed, pub, 'zero')
  parses(pair.private, pair.public)
})

test('many generated keys all parse, and OpenSSH reads them back to the same public key', () => {
  for (let i = 0; i < 300; i++) {
    const pair = generateEd25519(`k${i}`)
    parses(pair.private, pair.public)
  }
  const dir = mkdtempSync('/tmp/burrow-keygen-')
  try {
    const pair = generateEd25519('burrow test')
    writeFileSync(join(dir, 'k'), pair.private, { mode: 0o600 })
    const p = Bun.spawnSync(['ssh-keygen', '-y', '-f', join(dir, 'k')])
    expect(p.exitCode).toBe(0)
    expect(p.stdout.toString().trim()).toBe(pair.public)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
