import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EmbeddedState } from './embedded'
import { damage, keptPath } from './recover'

const dir = mkdtempSync('/tmp/brt-recover-')
let n = 0
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** a store with h1 disabled and a banner, closed; returns its path */
async function store(): Promise<string> {
  const path = join(dir, `s${++n}.db`)
  const s = new EmbeddedState(path)
  await s.setDisabled('h1:22', true)
  await s.recordCheck('h2:22', 'up', 5)
  await s.setBanner('kept')
  s.close()
  return path
}

describe('a damaged embedded store', () => {
  test.each([
    ['empty', () => Buffer.alloc(0), 'it is empty'],
    [
      'bad header',
      (b: Buffer) => Buffer.concat([Buffer.from('not sqlite at all'), b.subarray(17)]),
      'it does not start with the SQLite header',
    ],
    ['truncated', (b: Buffer) => b.subarray(0, 1024), 'it is truncated (1024 of'],
  ])(
    '%p is detected, moved aside, and disabled hosts and banner come back',
    async (_name, spoil, reason) => {
      const path = await store()
      expect(damage(path)).toBeUndefined()
      writeFileSync(path, spoil(readFileSync(path)))
      expect(damage(path)).toContain(reason)
      const s = new EmbeddedState(path)
      expect(await s.hosts()).toEqual([{ id: 'h1:22', state: 'unknown', ts: 0, disabled: true }])
      expect((await s.banner())?.text).toBe('kept')
      s.close()
      expect(damage(path)).toBeUndefined()
      expect(
        [...new Bun.Glob(`s${n}.db.damaged-*`).scanSync(dir)].filter((f) => f.endsWith('Z')),
      ).toHaveLength(1)
    },
  )

  test('without the kept copy, what SQLite can still read of a bad header is salvaged', async () => {
    const path = await store()
    rmSync(keptPath(path))
    const b = readFileSync(path)
    writeFileSync(path, Buffer.concat([Buffer.from('SQLite format 2\0'), b.subarray(16)]))
    const s = new EmbeddedState(path)
    expect((await s.hosts()).filter((h) => h.disabled).map((h) => h.id)).toEqual(['h1:22'])
    s.close()
    expect(existsSync(keptPath(path))).toBe(true)
  })
})

describe('a healthy store opened by many sessions at once (state.access: direct)', () => {
  // before the open lock, a store being created looked empty and one being set up looked locked
  // to the next opener, and both were moved aside as damaged, taking live sessions with them
  test.each(['a new store', 'an existing store'])(
    '%s: 12 processes open, register and list; nothing is moved aside',
    async (kind) => {
      const path = join(dir, `busy${++n}.db`)
      if (kind === 'an existing store') new EmbeddedState(path).close()
      const worker = `
      const { EmbeddedState } = await import(${JSON.stringify(join(import.meta.dir, 'embedded.ts'))})
      for (let i = 0; i < 15; i++) {
        const s = new EmbeddedState(${JSON.stringify(path)})
        const id = crypto.randomUUID().replaceAll('-', '').slice(0, 10).toUpperCase()
        const reg = await s.register({ id, user: 'u', service: 's', dest: 'h:22', from: 'a:1', sshd: 'b:2', gateway: 'g', start: 1, bwIn: 0, bwOut: 0 }, 60000)
        await s.connections()
        await reg.close()
        s.close()
      }`
      const procs = Array.from({ length: 12 }, () =>
        Bun.spawn([process.execPath, '-e', worker], { stdout: 'pipe', stderr: 'pipe' }),
      )
      const results = await Promise.all(
        procs.map(async (p) => ({
          code: await p.exited,
          stderr: await new Response(p.stderr).text(),
        })),
      )
      expect(results.filter((r) => r.code !== 0 || r.stderr !== '')).toEqual([])
      expect([...new Bun.Glob(`busy${n}.db.damaged-*`).scanSync(dir)]).toEqual([])
    },
    60_000,
  )
})
