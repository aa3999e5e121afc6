/**
 * authorized_keys options through the real OpenSSH client: one key per row of options in root's
 * keys file, each tried for a PTY, -W (direct-tcpip, here to a burrow unix-socket address on the
 * host, including Incus's admin socket), -R, agent forwarding, forced commands, from=,
 * expiry-time= and environment=.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { incusAvailable } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, prepareTargets, ssh, sshArgs, startServe } from './support'
import { listenPort } from '../support/ports'

const SOCK_OK = '/tmp/bsa-keys-ok.sock'
const SOCK_OTHER = '/tmp/bsa-keys-other.sock'
const AGENT = '/tmp/bsa-keys-agent.sock'

/** Every option set under test, by name; each gets its own key. */
const OPTIONS: Record<string, string> = {
  plain: '',
  restrict: 'restrict',
  reenabled: 'restrict,pty,port-forwarding,agent-forwarding',
  noPty: 'no-pty',
  noPortForwarding: 'no-port-forwarding',
  noAgent: 'no-agent-forwarding',
  permitopen: `permitopen="unix%${SOCK_OK}:22"`,
  permitlisten: 'permitlisten="127.0.0.1:41022"',
  command: 'command="echo forced:[$SSH_ORIGINAL_COMMAND]"',
  fromOther: 'from="127.0.0.2"',
  expired: 'expiry-time="20000101"',
  future: 'expiry-time="29991231"',
  environment: 'environment="BSA_FROM_KEY=hi"',
}

let s: Serve
const keys: Record<string, string> = {}
let listeners: { stop(): void }[] = []
let agent: ReturnType<typeof Bun.spawn> | undefined

/** `ssh -W DEST`: the first bytes the destination sends, or '' if the channel was refused. */
async function w(key: string, dest: string, send = ''): Promise<string> {
  const p = Bun.spawn([...sshArgs(s, C1, ['-W', dest], key)], {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  if (send) {
    p.stdin.write(send)
    p.stdin.flush()
  }
  const reader = p.stdout.getReader()
  const first = await Promise.race([reader.read(), Bun.sleep(5000).then(() => undefined)])
  p.kill()
  await p.exited
  return first?.value ? new TextDecoder().decode(first.value) : ''
}

/** `ssh -R SPEC` with ExitOnForwardFailure: 'ok' once the remote listener is up, else the error. */
async function r(key: string, spec: string): Promise<string> {
  const res = await ssh(s, C1, 'echo ok', {
    key,
    extra: ['-R', spec, '-o', 'ExitOnForwardFailure=yes'],
  })
  return res.code === 0 ? res.stdout.trim() : res.stderr.trim()
}

describe.skipIf(!incusAvailable())('serve: authorized_keys options', () => {
  beforeAll(async () => {
    await prepareTargets()
    s = await startServe(['--permit-user-environment'], { keysFor: [] })
    const lines: string[] = []
    for (const [name, opts] of Object.entries(OPTIONS)) {
      const k = join(s.dir, `key-${name}`)
      Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', k])
      keys[name] = k
      lines.push(`${opts} ${readFileSync(`${k}.pub`, 'utf8').trim()}`.trim())
    }
    writeFileSync(join(s.dir, 'root.keys'), `${lines.join('\n')}\n`)
    for (const [path, text] of [
      [SOCK_OK, 'ok-socket\n'],
      [SOCK_OTHER, 'other-socket\n'],
    ] as const) {
      rmSync(path, { force: true })
      listeners.push(
        Bun.listen({
          unix: path,
          socket: { open: (sock) => void sock.write(text), data: () => {} },
        }),
      )
    }
    rmSync(AGENT, { force: true })
    agent = Bun.spawn(['ssh-agent', '-D', '-a', AGENT], { stdout: 'ignore', stderr: 'ignore' })
    for (let i = 0; i < 100 && !Bun.file(AGENT).size && !(await Bun.file(AGENT).exists()); i++)
      await Bun.sleep(20)
  })
  afterAll(async () => {
    for (const l of listeners) l.stop()
    listeners = []
    agent?.kill()
    await s?.stop()
    for (const p of [SOCK_OK, SOCK_OTHER, AGENT]) rmSync(p, { force: true })
  })

  test.each<[string, { pty: boolean; w: boolean; admin: boolean; agent: boolean }]>([
    ['plain', { pty: true, w: true, admin: true, agent: true }],
    ['restrict', { pty: false, w: false, admin: false, agent: false }],
    ['reenabled', { pty: true, w: true, admin: true, agent: true }],
    ['noPty', { pty: false, w: true, admin: true, agent: true }],
    ['noPortForwarding', { pty: true, w: false, admin: false, agent: true }],
    ['noAgent', { pty: true, w: true, admin: true, agent: false }],
  ])('%p: PTY, -W, -W to the Incus admin socket, agent', async (name, want) => {
    const key = keys[name]!
    const tty = await ssh(s, C1, 'tty >/dev/null && echo tty || echo none', { key, extra: ['-tt'] })
    const viaW = await w(key, `unix%${SOCK_OK}:22`)
    const admin = await w(key, 'unix%/var/lib/incus/unix.socket:1', 'GET /1.0 HTTP/1.0\r\n\r\n')
    const ag = await ssh(s, C1, 'test -n "$SSH_AUTH_SOCK" && echo agent || echo none', {
      key,
      extra: ['-A', '-o', `IdentityAgent=${AGENT}`],
      env: { SSH_AUTH_SOCK: AGENT },
    })
    expect({
      pty: tty.stdout.trim() === 'tty',
      w: viaW === 'ok-socket\n',
      admin: admin.startsWith('HTTP/1.'),
      agent: ag.stdout.trim() === 'agent',
    }).toEqual(want)
  })

  test('restrict also refuses -L, which port-forwarding re-enables', async () => {
    const viaL = async (key: string) => {
      const port = listenPort()
      const p = Bun.spawn(
        [...sshArgs(s, C1, ['-N', '-L', `127.0.0.1:${port}:unix%${SOCK_OK}:22`], key)],
        {
          stdin: 'ignore',
          stdout: 'ignore',
          stderr: 'ignore',
        },
      )
      try {
        for (let i = 0; i < 100; i++) {
          // '' = the channel was refused (closed at once); undefined = ssh is not listening yet
          const got = await new Promise<string | undefined>((resolve) => {
            let data = ''
            const c = net.connect(port, '127.0.0.1')
            c.on('data', (d) => (data += d.toString()))
            c.on('error', () => resolve(undefined))
            c.on('close', (hadError) => !hadError && resolve(data))
            setTimeout(() => c.destroy(), 2000)
          })
          if (got !== undefined) return got
          await Bun.sleep(50)
        }
        return undefined
      } finally {
        p.kill()
      }
    }
    expect(await viaL(keys.restrict!)).toBe('')
    expect(await viaL(keys.reenabled!)).toBe('ok-socket\n')
  })

  test('restrict also refuses -R, which port-forwarding re-enables', async () => {
    expect(await r(keys.restrict!, '127.0.0.1:0:127.0.0.1:1')).toContain(
      'remote port forwarding failed',
    )
    expect(await r(keys.reenabled!, '127.0.0.1:0:127.0.0.1:1')).toBe('ok')
  })

  test('permitopen allows only the listed host:port', async () => {
    expect(await w(keys.permitopen!, `unix%${SOCK_OK}:22`)).toBe('ok-socket\n')
    expect(await w(keys.permitopen!, `unix%${SOCK_OTHER}:22`)).toBe('')
    expect(await w(keys.permitopen!, `unix%${SOCK_OK}:23`)).toBe('')
    expect(s.log()).toContain(`unix%${SOCK_OTHER}:22 is not in the key's permitopen`)
  })

  test('permitlisten allows only the listed listen address', async () => {
    expect(await r(keys.permitlisten!, '127.0.0.1:41022:127.0.0.1:1')).toBe('ok')
    expect(await r(keys.permitlisten!, '127.0.0.1:41023:127.0.0.1:1')).toContain(
      'remote port forwarding failed',
    )
  })

  test('command= replaces the command and passes it on as SSH_ORIGINAL_COMMAND', async () => {
    const key = keys.command!
    expect(await ssh(s, C1, 'echo not me', { key })).toMatchObject({
      code: 0,
      stdout: 'forced:[echo not me]\n',
    })
    expect((await ssh(s, C1, undefined, { key, extra: ['-T'] })).stdout).toBe('forced:[]\n')
    // sftp is a subsystem: the forced command runs instead of any sftp server
    expect((await ssh(s, C1, 'sftp', { key, extra: ['-s'] })).stdout).toBe('forced:[sftp]\n')
    // nor does it open the host's Incus shell
    const shell = await ssh(s, '%shell', undefined, { key, extra: ['-tt'] })
    expect(shell.stdout + shell.stderr).toContain(
      'Failed to run %shell: this key may only run its command=',
    )
  })

  test('from= refuses other source addresses (127.0.0.1 vs 127.0.0.2)', async () => {
    const key = keys.fromOther!
    expect((await ssh(s, C1, 'echo in', { key })).code).toBe(255)
    expect(await ssh(s, C1, 'echo in', { key, extra: ['-b', '127.0.0.2'] })).toMatchObject({
      code: 0,
      stdout: 'in\n',
    })
    expect(s.log()).toContain('from= does not allow 127.0.0.1')
  })

  test('expiry-time in the past refuses the key, one in the future does not', async () => {
    expect((await ssh(s, C1, 'echo in', { key: keys.expired! })).code).toBe(255)
    expect(s.log()).toMatch(/refused: key .*: expired at 2000-01-0\dT.*\(expiry-time\)/)
    expect((await ssh(s, C1, 'echo in', { key: keys.future! })).stdout).toBe('in\n')
  })

  test('environment= applies with --permit-user-environment', async () => {
    const r1 = await ssh(s, C1, 'echo "[$BSA_FROM_KEY]"', { key: keys.environment! })
    expect(r1.stdout).toBe('[hi]\n')
  })
})

describe.skipIf(!incusAvailable())('serve: environment= is off by default', () => {
  test('without --permit-user-environment the variable is not set', async () => {
    await prepareTargets()
    const s2 = await startServe([], { keysFor: [] })
    try {
      const pub = readFileSync(`${s2.key}.pub`, 'utf8').trim()
      writeFileSync(join(s2.dir, 'root.keys'), `environment="BSA_FROM_KEY=hi" ${pub}\n`)
      expect((await ssh(s2, C1, 'echo "[$BSA_FROM_KEY]"')).stdout).toBe('[]\n')
    } finally {
      await s2.stop()
    }
  })
})
