/**
 * FIDO security keys (ecdsa-sk, ed25519-sk) through the real OpenSSH client and ssh-keygen. No
 * authenticator exists here, so OpenSSH loads tests/support/sk-provider.c as its
 * SecurityKeyProvider (as OpenSSH's own regress tests load sk-dummy); the flags it reports are
 * what a key says about a touch (1), a touch plus a PIN (5), or no touch (0). As sshd: no touch
 * is refused unless the line has no-touch-required; verify-required needs the PIN flag.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { incusAvailable } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, prepareTargets, ssh, startServe } from './support'

const KEYS = {
  ecdsa: { type: 'ecdsa-sk', options: '' },
  ed25519: { type: 'ed25519-sk', options: '' },
  noTouch: { type: 'ecdsa-sk', options: 'no-touch-required' },
  verify: { type: 'ed25519-sk', options: 'verify-required' },
} as const
type KeyName = keyof typeof KEYS

let s: Serve
let provider: string
const key = (name: KeyName) => join(s.dir, `sk-${name}`)

/** `ssh … echo ok` with the stand-in authenticator reporting `flags`. */
const login = (name: KeyName, flags: number) =>
  ssh(s, C1, 'echo ok', {
    key: key(name),
    extra: ['-o', `SecurityKeyProvider=${provider}`],
    env: { BURROW_SK_FLAGS: String(flags) },
  })

describe.skipIf(!incusAvailable())(
  'serve: FIDO security keys through the real OpenSSH client',
  () => {
    beforeAll(async () => {
      await prepareTargets()
      s = await startServe([], { keysFor: [] })
      provider = join(s.dir, 'sk-provider.so')
      const src = join(import.meta.dir, '..', 'support', 'sk-provider.c')
      const cc = Bun.spawnSync(
        [
          'gcc',
          '-shared',
          '-fPIC',
          '-Wall',
          '-Werror',
          '-Wno-deprecated-declarations',
          '-o',
          provider,
          src,
          '-lcrypto',
        ],
        { stderr: 'pipe' },
      )
      if (cc.exitCode !== 0) throw new Error(`gcc: ${cc.stderr}`)
      const lines: string[] = []
      for (const [name, k] of Object.entries(KEYS)) {
        const path = key(name as KeyName)
        const gen = Bun.spawnSync(
          ['ssh-keygen', '-q', '-t', k.type, '-w', provider, '-N', '', '-C', name, '-f', path],
          { stderr: 'pipe' },
        )
        if (gen.exitCode !== 0) throw new Error(`ssh-keygen -t ${k.type}: ${gen.stderr}`)
        lines.push(`${k.options} ${readFileSync(`${path}.pub`, 'utf8').trim()}`.trim())
      }
      writeFileSync(join(s.dir, 'root.keys'), `${lines.join('\n')}\n`)
    })
    afterAll(async () => {
      await s?.stop()
    })

    test.each<[KeyName, number, boolean]>([
      ['ecdsa', 1, true],
      ['ecdsa', 0, false],
      ['ed25519', 1, true],
      ['ed25519', 0, false],
      ['noTouch', 0, true],
      ['verify', 1, false],
      ['verify', 5, true],
    ])('%p key, authenticator flags %p: logs in = %p', async (name, flags, ok) => {
      const r = await login(name, flags)
      if (ok) expect(r).toMatchObject({ code: 0, stdout: 'ok\n' })
      else {
        expect(r.code).toBe(255)
        expect(r.stderr).toContain('Permission denied (publickey')
      }
    })

    test('the refusal says why in the server log', async () => {
      await login('ecdsa', 0)
      await login('verify', 1)
      const log = s.log()
      expect(log).toContain('lacks user presence')
      expect(log).toContain('lacks user verification (verify-required)')
    })
  },
)
