import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { defaults } from './config'
import { expandDests } from './dest'
import { order, selectDest } from './select'
import { EmbeddedState } from './state/embedded'

const dir = mkdtempSync('/tmp/burrow-select-')
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const dests = expandDests(['h[1-3]'])

describe('route_select order', () => {
  test('connections puts the user’s least used host first, then the least used overall', async () => {
    const state = new EmbeddedState(join(dir, 'a.db'))
    const base = {
      service: 's',
      from: 'a:1',
      sshd: 'b:2',
      gateway: require('node:os').hostname(),
      start: 1,
      bwIn: 0,
      bwOut: 0,
    }
    await state.register({ ...base, id: '1', user: 'me', dest: 'h1:22' }, 60_000)
    await state.register({ ...base, id: '2', user: 'other', dest: 'h2:22' }, 60_000)
    await state.register({ ...base, id: '3', user: 'other', dest: 'h2:22' }, 60_000)
    const config = { ...defaults(), route_select: 'connections' as const }
    for (let i = 0; i < 5; i++) {
      const o = await order({ state, config, dests, user: 'me' }, dests)
      expect(o.map((d) => d.id)).toEqual(['h3:22', 'h2:22', 'h1:22'])
    }
    state.close()
  })

  test('ordered keeps config order; random is a permutation', async () => {
    const state = new EmbeddedState(join(dir, 'b.db'))
    const input = { state, dests, user: 'me' }
    expect((await order({ ...input, config: defaults() }, dests)).map((d) => d.id)).toEqual([
      'h1:22',
      'h2:22',
      'h3:22',
    ])
    const seen = new Set<string>()
    for (let i = 0; i < 40; i++)
      seen.add(
        (await order({ ...input, config: { ...defaults(), route_select: 'random' } }, dests))[0]!
          .id,
      )
    expect([...seen].sort()).toEqual(['h1:22', 'h2:22', 'h3:22'])
    state.close()
  })
})

describe('work beside the probe', () => {
  const listen = async (onConnect: (s: net.Socket) => void) => {
    const srv = net.createServer(onConnect).listen(0, '127.0.0.1')
    await new Promise((r) => srv.once('listening', r))
    return { srv, dest: `127.0.0.1:${(srv.address() as net.AddressInfo).port}` }
  }

  test('starts with every probe and is settled by its verdict before the next host is tried; trusted checks start nothing', async () => {
    const sshd = await listen((s) => s.end('SSH-2.0-test\r\n'))
    const mute = await listen(() => {})
    const closed = await listen(() => {})
    await new Promise((r) => closed.srv.close(r))
    try {
      const state = new EmbeddedState(join(dir, 'c.db'))
      const log: string[] = []
      const alongsideProbe = (d: { id: string }) => {
        log.push(`start ${d.id}`)
        return async (up: boolean) => {
          await Bun.sleep(20)
          log.push(`${up ? 'keep' : 'undo'} ${d.id}`)
        }
      }
      const list = expandDests([closed.dest, mute.dest, sshd.dest])
      const config = { ...defaults(), check_timeout: 300, check_interval: 3_600_000 }
      const picked = await selectDest({ state, config, dests: list, user: 'me', alongsideProbe })
      expect(picked.dest?.id).toBe(sshd.dest)
      expect(log).toEqual([
        `start ${closed.dest}`,
        `undo ${closed.dest}`,
        `start ${mute.dest}`,
        `undo ${mute.dest}`,
        `start ${sshd.dest}`,
        `keep ${sshd.dest}`,
      ])
      // the stored results are trusted now: no probe, nothing started beside one
      log.length = 0
      expect(
        (await selectDest({ state, config, dests: list, user: 'me', alongsideProbe })).dest?.id,
      ).toBe(sshd.dest)
      expect(log).toEqual([])
      state.close()
    } finally {
      sshd.srv.close()
      mute.srv.close()
    }
  })
})
