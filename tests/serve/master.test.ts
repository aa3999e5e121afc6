import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { incusAvailable } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, prepareTargets, ssh, sshArgs, startServe } from './support'

let first: Serve
let second: Serve | undefined

/** pids of the processes listening on the port (ss -ltnp) */
function listeners(port: number): number[] {
  const out = Bun.spawnSync(['ss', '-Hltnp', `sport = :${port}`]).stdout.toString()
  return [...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]))
}

describe.skipIf(!incusAvailable())('serve --master: a worker per connection', () => {
  beforeAll(async () => {
    await prepareTargets()
    first = await startServe(['--master'])
  })
  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()])
  })

  test('restarting the master keeps a live session and new logins work at once', async () => {
    expect(await ssh(first, C1, 'echo via-worker')).toEqual({
      code: 0,
      stdout: 'via-worker\n',
      stderr: '',
    })
    // a live session: `cat` echoes what it is sent, line by line
    const live = Bun.spawn([...sshArgs(first, C1), 'cat'], {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const reader = live.stdout.getReader()
    const line = async () => {
      const { value } = await reader.read()
      return new TextDecoder().decode(value)
    }
    live.stdin.write('one\n')
    live.stdin.flush()
    expect(await line()).toBe('one\n')
    // only the master listens; the worker does not hold the listener
    expect(listeners(first.port)).toEqual([first.pid])

    process.kill(first.pid, 'SIGTERM')
    for (let i = 0; i < 100 && listeners(first.port).length; i++) await Bun.sleep(20)
    expect(first.log()).toContain('sessions keep running')
    // the SSH side ran in a worker process, not in the master
    const worker = /worker (\d+) for 127\.0\.0\.1/.exec(first.log())
    expect(Number(worker?.[1])).not.toBe(first.pid)
    // the same port at once, while the worker's connection on it is still established
    second = await startServe(['--master', '--listen', `127.0.0.1:${first.port}`])
    expect(second.port).toBe(first.port)

    live.stdin.write('two\n')
    live.stdin.flush()
    expect(await line()).toBe('two\n')
    expect(await ssh(second, C1, 'echo new-login')).toEqual({
      code: 0,
      stdout: 'new-login\n',
      stderr: '',
    })
    live.stdin.end()
    expect(await live.exited).toBe(0)
  })
})
