import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { Client } from 'ssh2'
import { run } from '../../src/incus'
import { incusAvailable, testClient } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, HOST_IN, HOST_OUT, prepareTargets, ssh, startServe } from './support'

const incusCalls = (log: string) =>
  log.split('\n').filter((l) => /\bincus (GET|POST|PUT|DELETE)\b/.test(l)).length

/** ssh2's client, for login names OpenSSH refuses to send (control characters, quotes) */
function ssh2Login(
  s: Serve,
  username: string,
  auth: { privateKey?: Buffer; password?: string } = {},
): Promise<string> {
  return new Promise((resolve) => {
    const c = new Client()
    c.on('ready', () => {
      c.end()
      resolve('ready')
    })
    c.on('error', (err) => resolve(err.message))
    c.connect({ host: '127.0.0.1', port: s.port, username, readyTimeout: 5000, ...auth })
  })
}

/** a raw TCP connection: resolves with what the server sent before closing (or after `ms`) */
function rawConnect(port: number, ms: number): Promise<{ data: string; closedAfter?: number }> {
  return new Promise((resolve) => {
    const started = Date.now()
    let data = ''
    const sock = net.connect(port, '127.0.0.1')
    const timer = setTimeout(() => {
      sock.destroy()
      resolve({ data })
    }, ms)
    sock.on('data', (d) => (data += d.toString('latin1')))
    sock.on('error', () => {})
    sock.on('close', () => {
      clearTimeout(timer)
      resolve({ data, closedAfter: Date.now() - started })
    })
  })
}

describe.skipIf(!incusAvailable())('serve: authentication', () => {
  let s: Serve
  beforeAll(async () => {
    await prepareTargets()
    s = await startServe([
      '--banner',
      'Authorized use only on [HOSTNAME]',
      '--max-auth-failures',
      '0',
    ])
  })
  afterAll(() => s?.stop())

  test('a hostile-login table: all refused alike, nothing leaked, no Incus call before auth', async () => {
    const before = incusCalls(s.log())
    const denied = 'Permission denied (publickey).'
    const deniedFor = async (login: string, key?: string) => {
      const r = await ssh(s, login, 'true', { key })
      return {
        login,
        code: r.code,
        stdout: r.stdout,
        stderr: r.stderr.trim().replace(/^.*@127\.0\.0\.1: /, ''),
      }
    }
    // even the authorized key gets nowhere with a bad login or a host user outside the groups
    for (const login of [
      `${C1}+${HOST_OUT}`,
      `${C1}+burrow-t-nouser`,
      'a'.repeat(300),
      '.proj',
      `${C1}+`,
      '../../etc@x',
      'x.y.z+root+',
    ]) {
      expect(await deniedFor(login)).toEqual({ login, code: 255, stdout: '', stderr: denied })
    }
    // without a valid key, an existing instance, a missing one and a missing project look the same
    const stranger = join(s.dir, 'stranger')
    Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', stranger])
    for (const login of [C1, 'burrow-t-none', `${C1}.burrow-t-noproj`, `nosuchuser@${C1}`]) {
      expect(await deniedFor(login, stranger)).toEqual({
        login,
        code: 255,
        stdout: '',
        stderr: denied,
      })
    }
    // ssh2 sends what OpenSSH refuses to
    const key = readFileSync(s.key)
    for (const login of [
      '',
      `${C1}\n`,
      `${C1}\x00x`,
      `${C1}\x1b[2J`,
      "'; reboot #",
      `${C1} `,
      'é',
      `${C1}+${HOST_OUT}`,
    ]) {
      expect(await ssh2Login(s, login, { privateKey: key })).toBe(
        'All configured authentication methods failed',
      )
    }
    expect(incusCalls(s.log())).toBe(before)
  })

  test('a host user in an allowed group may log in; one outside may not', async () => {
    expect(await ssh(s, `${C1}+${HOST_IN}`, 'echo in')).toMatchObject({ code: 0, stdout: 'in\n' })
    expect((await ssh(s, `${C1}+${HOST_OUT}`, 'echo out')).code).toBe(255)
  })

  test('the banner is shown before authentication', async () => {
    const r = await ssh(s, C1, 'true', { extra: ['-o', 'LogLevel=INFO'] })
    expect(r.stderr).toContain('Authorized use only on ')
  })

  test('the host key is the host sshd key', async () => {
    const scan = Bun.spawnSync([
      'ssh-keyscan',
      '-t',
      'ed25519',
      '-p',
      String(s.port),
      '127.0.0.1',
    ]).stdout.toString()
    const mine = readFileSync('/etc/ssh/ssh_host_ed25519_key.pub', 'utf8').split(' ')[1]
    expect(scan.split(' ')[2]?.trim()).toBe(mine)
  })
})

describe.skipIf(!incusAvailable())('serve: key options', () => {
  let s: Serve
  beforeAll(async () => {
    await prepareTargets()
    s = await startServe([], { keysFor: [] })
    const pub = readFileSync(`${s.key}.pub`, 'utf8').trim()
    writeFileSync(join(s.dir, 'root.keys'), `restrict ${pub}\n`)
    writeFileSync(join(s.dir, `${HOST_IN}.keys`), `from="10.9.9.9" ${pub}\n`)
  })
  afterAll(() => s?.stop())

  test('restrict forbids a PTY but not exec; from= is enforced', async () => {
    expect((await ssh(s, C1, 'tty', { extra: ['-tt'] })).stderr).toContain(
      'PTY allocation request failed',
    )
    expect((await ssh(s, C1, 'tty')).stdout).toBe('not a tty\n')
    expect((await ssh(s, `${C1}+${HOST_IN}`, 'true')).code).toBe(255)
  })
})

describe.skipIf(!incusAvailable())('serve: unauthenticated limits', () => {
  let s: Serve
  beforeAll(async () => {
    await prepareTargets()
    s = await startServe([
      '--login-grace-time',
      '1s',
      '--max-startups',
      '2',
      '--max-auth-failures',
      '3/60',
    ])
  })
  afterAll(() => s?.stop())

  test('LoginGraceTime: an idle unauthenticated connection is dropped', async () => {
    const r = await rawConnect(s.port, 5000)
    expect(r.data).toStartWith('SSH-2.0-burrow')
    expect(r.closedAfter).toBeGreaterThan(900)
    expect(r.closedAfter).toBeLessThan(3000)
  })

  test('MaxStartups: beyond the cap new connections are dropped at once', async () => {
    const held = [rawConnect(s.port, 800), rawConnect(s.port, 800)]
    await Bun.sleep(100)
    const third = await rawConnect(s.port, 500)
    expect(third).toMatchObject({ data: '' })
    expect(third.closedAfter).toBeLessThan(300)
    await Promise.all(held)
  })

  test('failed connections from one address are refused for a while, even with a good key', async () => {
    // the grace-time test above already counted as one failure from 127.0.0.1
    const wrong = join(s.dir, 'wrong')
    Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', wrong])
    for (let i = 0; i < 2; i++) expect((await ssh(s, C1, 'true', { key: wrong })).code).toBe(255)
    const r = await ssh(s, C1, 'true')
    expect(r.code).toBe(255)
    expect(r.stderr).toMatch(/Connection (reset|closed)|kex_exchange_identification/)
    expect(s.log()).toContain('Refused connection from 127.0.0.1: too many failed logins recently')
  })
})

describe.skipIf(!incusAvailable())('serve: passwords, chains, instance keys, noauth', () => {
  const password = `pw-${crypto.randomUUID()}`
  let askpass: string
  let dir: string
  beforeAll(async () => {
    await prepareTargets()
    const p = Bun.spawnSync(['chpasswd'], { stdin: new Blob([`${HOST_IN}:${password}\n`]) })
    expect(p.exitCode).toBe(0)
    dir = (await import('node:fs')).mkdtempSync('/tmp/burrow-askpass-')
    askpass = join(dir, 'askpass')
    writeFileSync(askpass, `#!/bin/sh\necho '${password}'\n`)
    chmodSync(askpass, 0o755)
  })
  afterAll(() => {
    Bun.spawnSync(['usermod', '-p', '*', HOST_IN])
    Bun.spawnSync(['rm', '-rf', dir])
  })
  const withPassword = (extra: string[] = []) => ({
    env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' },
    extra: ['-o', 'BatchMode=no', '-o', 'NumberOfPasswordPrompts=1', ...extra],
  })

  test('--password-auth checks the host shadow file (yescrypt)', async () => {
    expect(readFileSync('/etc/shadow', 'utf8')).toContain(`${HOST_IN}:$y$`)
    const s = await startServe(['--password-auth'], { keysFor: [] })
    try {
      expect(
        await ssh(
          s,
          `${C1}+${HOST_IN}`,
          'echo pw-ok',
          withPassword(['-o', 'PubkeyAuthentication=no']),
        ),
      ).toMatchObject({ code: 0, stdout: 'pw-ok\n' })
      expect(await ssh2Login(s, `${C1}+${HOST_IN}`, { password: 'wrong' })).toBe(
        'All configured authentication methods failed',
      )
      expect(await ssh2Login(s, `${C1}+${HOST_OUT}`, { password })).toBe(
        'All configured authentication methods failed',
      )
    } finally {
      await s.stop()
    }
  })

  test('--auth-methods publickey,password needs both', async () => {
    const s = await startServe(['--auth-methods', 'publickey,password'])
    try {
      const keyOnly = await ssh(s, `${C1}+${HOST_IN}`, 'true')
      expect(keyOnly.code).toBe(255)
      expect(keyOnly.stderr).toContain('Permission denied (password)')
      expect(await ssh(s, `${C1}+${HOST_IN}`, 'echo both', withPassword())).toMatchObject({
        code: 0,
        stdout: 'both\n',
      })
    } finally {
      await s.stop()
    }
  })

  test("--inauth accepts the instance user's own keys", async () => {
    const s = await startServe(['--inauth'], { keysFor: [] })
    try {
      const pub = readFileSync(`${s.key}.pub`, 'utf8').trim()
      const res = await run(testClient(), C1, 'default', [
        'sh',
        '-c',
        'mkdir -p /home/alice/.ssh && printf "%s\\n" "$1" > /home/alice/.ssh/authorized_keys',
        'sh',
        pub,
      ])
      expect(res.code).toBe(0)
      expect(await ssh(s, `alice@${C1}`, 'whoami')).toMatchObject({ code: 0, stdout: 'alice\n' })
      expect((await ssh(s, C1, 'whoami')).code).toBe(255)
    } finally {
      await run(testClient(), C1, 'default', ['rm', '-f', '/home/alice/.ssh/authorized_keys'])
      await s.stop()
    }
  })

  test('--noauth lets anyone in, loudly', async () => {
    const s = await startServe(['--noauth'], { keysFor: [] })
    try {
      expect(s.log()).toContain('NO AUTHENTICATION')
      expect(await ssh(s, C1, 'echo open')).toMatchObject({ code: 0, stdout: 'open\n' })
    } finally {
      await s.stop()
    }
  })
})
