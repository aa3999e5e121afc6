import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { Client, Server } from 'ssh2'
import { incusAvailable } from '../../src/incus/testing'
import { openAgentChannel } from '../../src/serve/forward/agent'
import { generateEd25519 } from '../../src/serve/transport/keygen'
import type { Serve } from './support'
import { prepareTargets, ssh, startServe } from './support'
import { burrowDevices, FWD, prepareFwd, sh, until } from './fwd-support'

describe('openAgentChannel (ssh2 internals)', () => {
  test('opens auth-agent@openssh.com to a client that forwards its agent', async () => {
    const dir = mkdtempSync('/tmp/burrow-agent-')
    // a stand-in agent on the client side: echoes what it gets, upper-cased
    const agentPath = join(dir, 'agent.sock')
    const agent = net.createServer((c) => c.on('data', (d) => c.write(String(d).toUpperCase())))
    await new Promise<void>((r) => agent.listen(agentPath, r))
    const hostKey = generateEd25519().private
    const server = new Server({ hostKeys: [hostKey] }, (conn) => {
      conn.on('authentication', (ctx) => ctx.accept())
      conn.on('ready', () =>
        conn.on('session', (accept) => {
          const session = accept()
          session.on('exec', (ok) => void ok())
          session.on('auth-agent', (ok) => {
            ok?.()
            openAgentChannel(conn, (err, ch) => {
              if (err || !ch) throw err
              ch.write('ping')
              ch.once('data', (d: Buffer) => (got = String(d)))
            })
          })
        }),
      )
    })
    let got = ''
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as net.AddressInfo).port
    const client = new Client()
    await new Promise<void>((resolve, reject) => {
      client.on('error', reject)
      client.on('ready', () =>
        client.exec('x', { agentForward: true } as never, (err) => (err ? reject(err) : resolve())),
      )
      client.connect({
        host: '127.0.0.1',
        port,
        username: 'u',
        agent: agentPath,
        agentForward: true,
      })
    })
    try {
      expect(await until(() => got !== '', 3000)).toBe(true)
      expect(got).toBe('PING')
    } finally {
      client.end()
      server.close()
      agent.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe.skipIf(!incusAvailable())('serve: agent forwarding', () => {
  let s: Serve
  let dir: string
  let agent: ReturnType<typeof Bun.spawn> | undefined
  beforeAll(async () => {
    await prepareTargets()
    await prepareFwd()
    s = await startServe()
    dir = mkdtempSync('/tmp/burrow-agent-')
    agent = Bun.spawn(['ssh-agent', '-D', '-a', join(dir, 'agent.sock')], {
      stdout: 'ignore',
      stderr: 'ignore',
    })
    await until(() => Bun.spawnSync(['test', '-S', join(dir, 'agent.sock')]).exitCode === 0, 3000)
    const add = Bun.spawnSync(['ssh-add', s.key], {
      env: { SSH_AUTH_SOCK: join(dir, 'agent.sock') },
    })
    expect(add.exitCode).toBe(0)
  })
  afterAll(async () => {
    agent?.kill()
    await s?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('ssh -A: ssh-add -l inside lists the client keys; the socket belongs to the user and goes away', async () => {
    const fp = readFileSync(`${s.key}.pub`, 'utf8').split(' ')[1]!
    const r = await ssh(
      s,
      `alice@${FWD}`,
      'ssh-add -L; stat -c %U:%a "$SSH_AUTH_SOCK"; echo "$SSH_AUTH_SOCK"',
      {
        extra: ['-A', '-o', `IdentityAgent=${join(dir, 'agent.sock')}`],
        env: { SSH_AUTH_SOCK: join(dir, 'agent.sock') },
      },
    )
    expect(r.stderr).toBe('')
    const [key, owner, path] = r.stdout.trim().split('\n')
    expect(key).toContain(fp)
    expect(owner).toBe('alice:600')
    expect(path).toMatch(/^\/tmp\/burrow-agent-[0-9a-f]+\.sock$/)
    expect(await until(async () => (await burrowDevices()).length === 0)).toBe(true)
    // the socket file goes right after the device
    expect(await until(async () => (await sh(`test -e ${path}`)).code !== 0)).toBe(true)
  })

  test('without -A there is no SSH_AUTH_SOCK', async () => {
    expect((await ssh(s, FWD, 'echo "[$SSH_AUTH_SOCK]"')).stdout).toBe('[]\n')
  })
})
