import { describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { commOf, descendantPids, isAlive, startTcpSshd, startUnixSshd } from './sshd'

async function run(cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(cmd, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const [code, stdout, stderr] = await Promise.all([
    p.exited,
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
  ])
  return { code, stdout, stderr }
}

function leftovers(): string[] {
  return descendantPids(process.pid)
    .map((pid) => `${pid}:${commOf(pid)}`)
    .filter((s) => /:(socat|sshd)$/.test(s))
}

describe('test sshd helpers', () => {
  test('unix socket sshd (socat + sshd -i) and TCP sshd answer real ssh', async () => {
    const unix = await startUnixSshd()
    const tcp = await startTcpSshd()
    try {
      expect(unix.socketPath.length).toBeLessThan(100)
      expect(unix.hostPubKey).toStartWith('ssh-ed25519 ')

      const ucfg = unix.sshConfig('')
      const u = await run([
        'ssh',
        '-F',
        ucfg,
        '-o',
        `ProxyCommand=socat - UNIX-CONNECT:${unix.socketPath}`,
        'x',
        'echo hi',
      ])
      expect(u).toEqual({ code: 0, stdout: 'hi\n', stderr: '' })

      const tcfg = tcp.sshConfig('')
      const t = await run(['ssh', '-F', tcfg, '-p', String(tcp.port), '127.0.0.1', 'echo hi'])
      expect(t).toEqual({ code: 0, stdout: 'hi\n', stderr: '' })

      // `extra` comes first, so a Host block in it wins over the defaults
      const hcfg = unix.sshConfig(
        `Host alias\n  ProxyCommand socat - UNIX-CONNECT:${unix.socketPath}\n  User root`,
      )
      const h = await run(['ssh', '-F', hcfg, 'alias', 'echo $USER'])
      expect(h).toEqual({ code: 0, stdout: 'root\n', stderr: '' })

      // a long-running session command setsid()s away from sshd; stop()
      // must still take it down
      const sleeper = Bun.spawn(
        [
          'ssh',
          '-F',
          ucfg,
          '-o',
          `ProxyCommand=socat - UNIX-CONNECT:${unix.socketPath}`,
          'x',
          'exec sleep 300',
        ],
        { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
      )
      const deadline = Date.now() + 5000
      while (Date.now() < deadline && !descendantPids(unix.pid).some((p) => commOf(p) === 'sleep'))
        await Bun.sleep(20)
      const sleepPids = descendantPids(unix.pid).filter((p) => commOf(p) === 'sleep')
      expect(sleepPids.length).toBe(1)
      await unix.stop()
      expect(isAlive(sleepPids[0]!)).toBe(false)
      await sleeper.exited
    } finally {
      await unix.stop()
      await tcp.stop()
    }
    expect(existsSync(unix.dir)).toBe(false)
    expect(existsSync(tcp.dir)).toBe(false)
    expect(leftovers()).toEqual([])
  })
})
