/**
 * --master keeps the limits that span connections: failed logins in separate workers add up for
 * their source address, and a restarted master removes the forwarding devices of workers that
 * were killed with it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import net from 'node:net'
import { join } from 'node:path'
import { incusAvailable, testClient } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, prepareTargets, ssh, sshArgs, startServe } from './support'

/** the burrow proxy devices on C1 that belong to process `pid` */
async function devicesOf(pid: number): Promise<string[]> {
  const inst = await testClient().get<{ devices?: Record<string, unknown> }>(`/1.0/instances/${C1}`)
  return Object.keys(inst.devices ?? {}).filter((d) => d.startsWith(`burrow-${pid}-`))
}

async function until(check: () => Promise<boolean> | boolean, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(50))
    if (await check()) return true
  return false
}

describe.skipIf(!incusAvailable())('serve --master: limits across workers', () => {
  const servers: Serve[] = []
  beforeAll(() => prepareTargets())
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()))
  })

  test('failed logins in separate workers add up for their source address', async () => {
    const s = await startServe(['--master', '--max-auth-failures', '3/60'])
    servers.push(s)
    const wrong = join(s.dir, 'wrong')
    Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', wrong])
    for (let i = 0; i < 3; i++) expect((await ssh(s, C1, 'true', { key: wrong })).code).toBe(255)
    // give the last worker's report time to arrive
    expect(await until(() => (s.log().match(/worker \d+ exited/g) ?? []).length >= 3)).toBe(true)
    const r = await ssh(s, C1, 'echo in')
    expect(r.code).toBe(255)
    expect(s.log()).toContain('Refused connection from 127.0.0.1: too many failed logins recently')
    // another source is not affected
    expect(await ssh(s, C1, 'echo in', { extra: ['-b', '127.0.0.4'] })).toMatchObject({
      code: 0,
      stdout: 'in\n',
    })
  })

  test('the master ends a worker that is still unauthenticated after the grace time', async () => {
    const s = await startServe(['--master', '--login-grace-time', '1s'])
    servers.push(s)
    const started = performance.now()
    const closed = new Promise<number>((resolve) => {
      const sock = net.connect(s.port, '127.0.0.1')
      sock.on('data', () => {})
      sock.on('error', () => {})
      sock.on('close', () => resolve(performance.now() - started))
    })
    expect(await until(() => /worker (\d+) for 127\.0\.0\.1/.test(s.log()))).toBe(true)
    const worker = Number(/worker (\d+) for 127\.0\.0\.1/.exec(s.log())![1])
    // a stuck worker cannot run its own timer
    process.kill(worker, 'SIGSTOP')
    const ms = await closed
    expect(ms).toBeGreaterThan(2500)
    expect(ms).toBeLessThan(6000)
    expect(s.log()).toContain(
      `Timeout before authentication for 127.0.0.1: stopping worker ${worker}`,
    )
  })

  test('a restarted master removes the devices of a worker killed with the old one', async () => {
    const first = await startServe(['--master'])
    servers.push(first)
    // -R to a socket path: a proxy device (TCP -R into a local container listens in its
    // namespace and needs none)
    const fwd = Bun.spawn(
      [...sshArgs(first, C1, ['-N', '-R', `/tmp/bsa-ml-${process.pid}.sock:127.0.0.1:9`])],
      {
        stdin: 'ignore',
        stdout: 'ignore',
        stderr: 'ignore',
      },
    )
    try {
      expect(await until(() => /worker (\d+) for 127\.0\.0\.1/.test(first.log()))).toBe(true)
      const worker = Number(/worker (\d+) for 127\.0\.0\.1/.exec(first.log())![1])
      expect(await until(async () => (await devicesOf(worker)).length === 1)).toBe(true)
      process.kill(worker, 'SIGKILL')
      process.kill(first.pid, 'SIGKILL')
      await Bun.sleep(200)
      expect((await devicesOf(worker)).length).toBe(1)
      const second = await startServe(['--master'])
      servers.push(second)
      expect(await devicesOf(worker)).toEqual([])
      expect(second.log()).toContain('leftover forwarding device')
    } finally {
      fwd.kill()
    }
  })
})
