import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { applyPatches, ssh2Patches } from '../../scripts/ssh2-patches'

const ssh2 = join(import.meta.dir, '../../node_modules/ssh2')

describe('ssh2 source patches', () => {
  test.each(ssh2Patches.map((p) => [p.name, p] as const))(
    "'%s' fits the installed ssh2 exactly once",
    (_, p) => {
      const text = readFileSync(join(ssh2, p.file), 'utf8')
      const out = applyPatches(p.file, text, [p])
      expect(out).toContain(p.replace)
      expect(out).not.toContain(p.find)
    },
  )

  test.each([
    ['missing', 'nothing to see', 'nowhere'],
    ['ambiguous', 'x;\nx;\n', 'more than once'],
  ])('a patch whose text is %s fails loudly with its name', (_, text, why) => {
    const p = { name: 'demo', file: 'lib/a.js', find: 'x;', replace: 'y;' }
    expect(() => applyPatches('lib/a.js', text, [p])).toThrow(
      `ssh2 patch 'demo': its text occurs ${why} in ssh2/lib/a.js`,
    )
  })

  test('ssh2 as the tests and the binary load it offers chacha20-poly1305@openssh.com', () => {
    const { DEFAULT_CIPHER } = require('ssh2/lib/protocol/constants.js') as {
      DEFAULT_CIPHER: string[]
    }
    expect(DEFAULT_CIPHER).toContain('chacha20-poly1305@openssh.com')
  })

  test.each([
    [
      'chacha20-poly1305@openssh.com',
      64,
      0,
      'ChaChaPolyCipherBinding',
      'ChaChaPolyDecipherBinding',
    ],
    ['aes128-gcm@openssh.com', 16, 12, 'AESGCMCipherBinding', 'AESGCMDecipherBinding'],
    ['aes256-gcm@openssh.com', 32, 12, 'AESGCMCipherBinding', 'AESGCMDecipherBinding'],
  ])('ssh2 builds %s on the libcrypto binding', (name, keyLen, ivLen, enc, dec) => {
    const { CIPHER_INFO, createCipher, createDecipher } = require('ssh2/lib/protocol/crypto.js')
    const info = CIPHER_INFO[name]
    const key = Buffer.alloc(keyLen)
    const iv = Buffer.alloc(ivLen)
    const c = createCipher({
      outbound: { onWrite() {}, cipherInfo: info, cipherKey: key, cipherIV: iv, seqno: 0 },
    })
    const d = createDecipher({
      inbound: { onPayload() {}, decipherInfo: info, decipherKey: key, decipherIV: iv, seqno: 0 },
    })
    expect([c.constructor.name, d.constructor.name]).toEqual([enc, dec])
    c.free()
    d.free()
  })
})
