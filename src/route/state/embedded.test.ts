import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { EmbeddedState } from './embedded'
import { runStateContract } from './state.case'

const dir = mkdtempSync('/tmp/burrow-state-')
let n = 0
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('embedded state', () => {
  runStateContract(async () => new EmbeddedState(join(dir, `s${++n}`, 'route.db')))

  test('a connection whose process died stops counting at once', async () => {
    const path = join(dir, 'dead.db')
    const s = new EmbeddedState(path)
    const child = Bun.spawn(['sleep', '30'])
    await s.register(
      {
        id: 'D',
        user: 'u',
        service: 's',
        dest: 'h:22',
        from: 'a:1',
        sshd: 'b:2',
        gateway: require('node:os').hostname(),
        start: 1,
        bwIn: 0,
        bwOut: 0,
      },
      60_000,
    )
    // pretend the row belongs to the child, then kill it
    s.db
      .query('UPDATE connections SET pid = $pid, pidstart = (SELECT pidstart FROM connections)')
      .run({ pid: child.pid })
    s.db
      .query('UPDATE connections SET pidstart = $p')
      .run({ p: require('./embedded').processStart(child.pid) })
    expect((await s.connections()).length).toBe(1)
    child.kill('SIGKILL')
    await child.exited
    expect((await s.connections()).length).toBe(0)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    s.close()
  })
})
