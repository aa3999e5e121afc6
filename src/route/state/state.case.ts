// The State contract: every store must pass these. Not a test file itself; each store's test
// calls runStateContract with a factory for a fresh, empty store.

import { expect, test } from 'bun:test'
import type { Connection, State } from './types'

const conn = (id: string, user: string, service = 'svc', dest = 'h1:22'): Connection => ({
  id,
  user,
  service,
  dest,
  from: '192.0.2.1:5000',
  sshd: '192.0.2.9:22',
  gateway: 'gw1',
  start: Date.now(),
  bwIn: 0,
  bwOut: 0,
})

export function runStateContract(make: () => Promise<State>): void {
  test('connections are counted while registered, per user and service, separator-exact', async () => {
    const s = await make()
    const a = await s.register(conn('A', 'al'), 5000)
    const b = await s.register(conn('B', 'alice'), 5000)
    const c = await s.register(conn('C', 'al', 'svc2', 'h2:22'), 5000)
    expect((await s.connections({ user: 'al' })).map((x) => x.id).sort()).toEqual(['A', 'C'])
    expect((await s.connections({ user: 'al', service: 'svc' })).map((x) => x.id)).toEqual(['A'])
    expect((await s.connections({ user: 'alice' })).map((x) => x.id)).toEqual(['B'])
    expect((await s.connections({ user: 'a' })).length).toBe(0)
    expect((await s.connections()).length).toBe(3)
    await Promise.all([a.close(), b.close(), c.close()])
    expect(await s.connections()).toEqual([])
    s.close()
  })

  test('a registration stays alive past its ttl while kept, with its bandwidth', async () => {
    const s = await make()
    const r = await s.register(conn('K', 'bob'), 1000)
    r.setBandwidth(2000, 3000)
    await Bun.sleep(2500)
    const [k] = await s.connections({ user: 'bob' })
    expect(k?.id).toBe('K')
    expect([k?.bwIn, k?.bwOut]).toEqual([2000, 3000])
    await r.close()
    s.close()
  })

  test('host checks keep the disabled flag and forget removes both', async () => {
    const s = await make()
    await s.setDisabled('h1:22', true)
    await s.recordCheck('h1:22', 'up', 1234)
    expect(await s.host('h1:22')).toEqual({ id: 'h1:22', state: 'up', ts: 1234, disabled: true })
    await s.recordCheck('h2:22', 'down', 99)
    expect((await s.hosts()).map((h) => `${h.id}:${h.state}:${h.disabled}`)).toEqual([
      'h1:22:up:true',
      'h2:22:down:false',
    ])
    await s.setDisabled('h1:22', false)
    expect((await s.host('h1:22'))?.disabled).toBe(false)
    await s.forgetHost('h1:22')
    expect(await s.host('h1:22')).toBeUndefined()
    s.close()
  })

  test('sticky entries are remembered per user and service, expire, and are forgotten by filter', async () => {
    const s = await make()
    await s.remember('al', 'svc', 'h1:22', 60_000)
    await s.remember('alice', 'svc', 'h2:22', 60_000)
    await s.remember('al', 'short', 'h3:22', 1000)
    expect(await s.recall('al', 'svc')).toBe('h1:22')
    expect(await s.recall('alice', 'svc')).toBe('h2:22')
    expect(await s.recall('al', 'other')).toBeUndefined()
    await Bun.sleep(2100)
    expect(await s.recall('al', 'short')).toBeUndefined()
    expect(await s.forgetSticky({ user: 'al' })).toBe(1)
    expect((await s.sticky()).map((x) => x.user)).toEqual(['alice'])
    s.close()
  })

  test('the banner is set, expires and is cleared', async () => {
    const s = await make()
    expect(await s.banner()).toBeUndefined()
    await s.setBanner('down for maintenance')
    expect(await s.banner()).toEqual({ text: 'down for maintenance', expire: undefined })
    await s.setBanner('back soon', Date.now() + 1000)
    expect((await s.banner())?.text).toBe('back soon')
    await Bun.sleep(2100)
    expect(await s.banner()).toBeUndefined()
    await s.setBanner('x')
    await s.clearBanner()
    expect(await s.banner()).toBeUndefined()
    s.close()
  })
}
