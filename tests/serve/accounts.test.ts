/**
 * Locked and expired host accounts, made with the real tools (useradd, usermod -L, chage -E 0),
 * are refused for every method with one log line saying why, as sshd without PAM refuses them.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { run } from '../../src/incus'
import { incusAvailable, testClient } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, prepareTargets, ssh, startServe } from './support'

const OK = 'bsa-acct-ok'
const LOCKED = 'bsa-acct-locked'
const EXPIRED = 'bsa-acct-expired'
const password = `pw-${crypto.randomUUID()}`

function sh(...argv: string[]): void {
  const p = Bun.spawnSync(argv)
  if (p.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${p.stderr}`)
}

describe.skipIf(!incusAvailable())('serve: locked and expired host accounts', () => {
  let s: Serve
  let dir: string
  let askpass: string
  beforeAll(async () => {
    await prepareTargets()
    for (const u of [OK, LOCKED, EXPIRED]) {
      // incus-admin: the fixtures live in the default project, which plain `incus` members
      // do not reach (tests/serve/authz.test.ts)
      if (Bun.spawnSync(['id', u]).exitCode !== 0)
        sh(
          'useradd',
          '--system',
          '--no-create-home',
          '--home-dir',
          `/tmp/${u}`,
          '-G',
          'incus-admin',
          u,
        )
      else sh('usermod', '-G', 'incus-admin', u)
      sh('chage', '-E', '-1', u)
    }
    const p = Bun.spawnSync(['chpasswd'], {
      stdin: new Blob([[OK, LOCKED, EXPIRED].map((u) => `${u}:${password}\n`).join('')]),
    })
    expect(p.exitCode).toBe(0)
    sh('usermod', '-L', LOCKED)
    sh('chage', '-E', '0', EXPIRED)
    s = await startServe(['--password-auth', '--max-auth-failures', '0'], {
      keysFor: [OK, LOCKED, EXPIRED],
    })
    dir = mkdtempSync('/tmp/bsa-askpass-')
    askpass = join(dir, 'askpass')
    writeFileSync(askpass, `#!/bin/sh\necho '${password}'\n`)
    chmodSync(askpass, 0o755)
  })
  afterAll(async () => {
    await s?.stop()
    rmSync(dir, { recursive: true, force: true })
    for (const u of [OK, LOCKED, EXPIRED]) Bun.spawnSync(['userdel', u])
  })

  const byPassword = () => ({
    env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' },
    extra: [
      '-o',
      'BatchMode=no',
      '-o',
      'NumberOfPasswordPrompts=1',
      '-o',
      'PubkeyAuthentication=no',
    ],
  })

  test.each([
    [OK, { key: 0, password: 0, both: 0 }, undefined],
    [LOCKED, { key: 255, password: 255, both: 255 }, `account '${LOCKED}' is locked`],
    [EXPIRED, { key: 255, password: 255, both: 255 }, `account '${EXPIRED}' has expired`],
  ])('%p: key and password', async (user, want, why) => {
    const before = s.log()
    const key = await ssh(s, `${C1}+${user}`, 'echo in')
    const pw = await ssh(s, `${C1}+${user}`, 'echo in', byPassword())
    // one connection offering the key first, then the password
    const both = await ssh(s, `${C1}+${user}`, 'echo in', {
      env: byPassword().env,
      extra: ['-o', 'BatchMode=no', '-o', 'NumberOfPasswordPrompts=1'],
    })
    expect({ key: key.code, password: pw.code, both: both.code }).toEqual(want)
    const lines = s.log().slice(before.length).split('\n')
    if (!why) return expect(lines.filter((l) => /locked|expired/.test(l))).toEqual([])
    // one line per connection, at the default log level, whatever the client retried
    expect(lines.filter((l) => l.startsWith('[info]') && l.includes(why))).toHaveLength(3)
  })
})

describe.skipIf(!incusAvailable())('serve: --inauth --password-auth', () => {
  const inPassword = `in-${crypto.randomUUID()}`
  let dir: string
  let askpass: string
  beforeAll(async () => {
    await prepareTargets()
    const res = await run(testClient(), C1, 'default', [
      'sh',
      '-c',
      'echo "alice:$1" | chpasswd',
      'sh',
      inPassword,
    ])
    expect(res.code).toBe(0)
    dir = mkdtempSync('/tmp/bsa-askpass-')
    askpass = join(dir, 'askpass')
    writeFileSync(askpass, `#!/bin/sh\necho "$BSA_PASSWORD"\n`)
    chmodSync(askpass, 0o755)
  })
  afterAll(async () => {
    await run(testClient(), C1, 'default', ['usermod', '-p', '*', 'alice'])
    rmSync(dir, { recursive: true, force: true })
  })
  const withPassword = (pw: string) => ({
    env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', BSA_PASSWORD: pw },
    extra: [
      '-o',
      'BatchMode=no',
      '-o',
      'NumberOfPasswordPrompts=1',
      '-o',
      'PubkeyAuthentication=no',
    ],
  })

  test.each([
    [['--inauth', '--password-auth'], 'right', { code: 0, stdout: 'alice\n' }],
    [['--inauth', '--password-auth'], 'wrong', { code: 255, stdout: '' }],
    [['--password-auth'], 'right', { code: 255, stdout: '' }],
  ])('%p with the %s instance password', async (args, which, want) => {
    const s = await startServe(args, { keysFor: [] })
    try {
      const r = await ssh(
        s,
        `alice@${C1}`,
        'whoami',
        withPassword(which === 'right' ? inPassword : 'nope'),
      )
      expect({ code: r.code, stdout: r.stdout }).toEqual(want)
    } finally {
      await s.stop()
    }
  })
})
