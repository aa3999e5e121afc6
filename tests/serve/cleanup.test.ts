import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { Client } from 'ssh2'
import { run } from '../../src/incus'
import { incusAvailable, processes, testClient } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, prepareTargets, ssh, sshArgs, startServe } from './support'

/** processes in C1 besides init and the lookups of the tests themselves */
async function leftovers(): Promise<string[]> {
  return (await processes(C1)).filter((l) => !/^\s*1 /.test(l) && !/\btmux\b/.test(l))
}

async function settle(): Promise<string[]> {
  let left: string[] = []
  for (let i = 0; i < 40; i++) {
    left = await leftovers()
    if (left.length === 0) break
    await Bun.sleep(100)
  }
  return left
}

describe.skipIf(!incusAvailable())('serve: processes end with their SSH channel', () => {
  let s: Serve
  beforeAll(async () => {
    await prepareTargets()
    s = await startServe(['--max-startups', '100', '--max-auth-failures', '0'])
  })
  afterAll(() => s?.stop())

  test('killing the client kills the command and everything it started', async () => {
    const p = Bun.spawn([...sshArgs(s, C1), 'sleep 301 | cat; echo never'], {
      stdout: 'pipe',
      stderr: 'pipe',
    })
    for (let i = 0; i < 50 && !(await leftovers()).some((l) => l.includes('sleep 301')); i++)
      await Bun.sleep(50)
    expect((await leftovers()).some((l) => l.includes('sleep 301'))).toBe(true)
    p.kill('SIGKILL')
    expect(await settle()).toEqual([])
  })

  test('a PTY session closed by the client leaves nothing behind', async () => {
    const p = Bun.spawn([...sshArgs(s, C1, ['-tt']), 'sleep 302 & sleep 303'], {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
    })
    for (let i = 0; i < 50 && !(await leftovers()).some((l) => l.includes('sleep 303')); i++)
      await Bun.sleep(50)
    p.kill('SIGKILL')
    expect(await settle()).toEqual([])
  })

  test.each([
    ['exec', [] as string[], 'sleep 305', 'sleep 306'],
    ['PTY', ['-tt'], 'sleep 307', 'sleep 308'],
  ])(
    '%s: a daemon that left the session (setsid nohup) outlives the client, as under sshd',
    async (_, extra, daemon, fg) => {
      const p = Bun.spawn(
        [...sshArgs(s, C1, extra), `setsid nohup ${daemon} >/dev/null 2>&1 & ${fg}`],
        {
          stdin: 'pipe',
          stdout: 'pipe',
          stderr: 'pipe',
        },
      )
      const has = async (what: string) => (await leftovers()).some((l) => l.includes(what))
      for (let i = 0; i < 50 && !(await has(fg)); i++) await Bun.sleep(50)
      expect(await has(daemon)).toBe(true)
      p.kill('SIGKILL')
      for (let i = 0; i < 40 && (await has(fg)); i++) await Bun.sleep(100)
      expect(await has(fg)).toBe(false)
      expect(await has(daemon)).toBe(true)
      await run(testClient(), C1, 'default', ['pkill', '-f', daemon])
      expect(await settle()).toEqual([])
    },
  )

  test('200 connect/disconnect cycles leave no exec processes', async () => {
    const cycle = async (i: number) => {
      if (i % 2 === 0) {
        expect(await ssh(s, C1, 'true')).toEqual({ code: 0, stdout: '', stderr: '' })
        return
      }
      // half of them are cut off while their command runs
      const p = Bun.spawn([...sshArgs(s, C1), `sleep 60${i}`], {
        stdout: 'ignore',
        stderr: 'ignore',
      })
      await Bun.sleep(150)
      p.kill('SIGKILL')
      await p.exited
    }
    const started = performance.now()
    for (let i = 0; i < 200; i += 10)
      await Promise.all(Array.from({ length: 10 }, (_, j) => cycle(i + j)))
    console.error(`200 cycles in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    expect(await settle()).toEqual([])
  })

  test('SSH signal requests reach the process, and exit-signal reports them', async () => {
    const key = readFileSync(s.key)
    const result = await new Promise<{ code?: number; signal?: string }>((resolve, reject) => {
      const c = new Client()
      c.on('error', reject)
      c.on('ready', () => {
        c.exec('sleep 304', (err, ch) => {
          if (err) return reject(err)
          ch.on('exit', (code: number | null, signal?: string) => {
            c.end()
            resolve({ code: code ?? undefined, signal })
          })
          ch.resume()
          setTimeout(() => ch.signal('TERM'), 500)
        })
      })
      c.connect({ host: '127.0.0.1', port: s.port, username: C1, privateKey: key })
    })
    expect(result).toEqual({ code: undefined, signal: 'SIGTERM' })
  })
})

describe.skipIf(!incusAvailable())('serve: its runtime directory goes with it', () => {
  test.each([[[]], [['--master']]])(
    'SIGTERM %p after a -R session leaves no <pid>-* directory',
    async (args) => {
      const runtime = mkdtempSync('/tmp/burrow-runtime-')
      await prepareTargets()
      const s = await startServe([...args], { env: { BURROW_RUNTIME_DIR: runtime } })
      try {
        // -R to a unix socket makes serve (or its worker) keep a host-side socket directory
        const r = await ssh(s, `root@${C1}`, 'sleep 0.5', {
          extra: ['-R', `/tmp/burrow-t-rt-${process.pid}.sock:${runtime}/none.sock`],
        })
        expect(r.code).toBe(0)
        expect(readdirSync(runtime).some((d) => /^\d+-/.test(d))).toBe(true)
        await Bun.sleep(300)
        process.kill(s.pid, 'SIGTERM')
        for (let i = 0; i < 50 && readdirSync(runtime).some((d) => /^\d+-/.test(d)); i++)
          await Bun.sleep(100)
        expect(readdirSync(runtime).filter((d) => /^\d+-/.test(d))).toEqual([])
      } finally {
        await s.stop()
        rmSync(runtime, { recursive: true, force: true })
      }
    },
  )
})
