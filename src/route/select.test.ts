import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { defaults } from './config'
import { expandDests } from './dest'
import { order } from './select'
import { EmbeddedState } from './state/embedded'

const dir = mkdtempSync('/tmp/burrow-select-')
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const dests = expandDests(['h[1-3]'])

describe('route_select order', () => {
  test('connections puts the user’s least used host first, then the least used overall', async () => {
    const state = new EmbeddedState(join(dir, 'a.db'))
    const base = { service: 's', from: 'a:1', sshd: 'b:2', gateway: require('node:os').hostname(), start: 1, bwIn: 0, bwOut: 0 }
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
    expect((await order({ ...input, config: defaults() }, dests)).map((d) => d.id)).toEqual(['h1:22', 'h2:22', 'h3:22'])
    const seen = new Set<string>()
    for (let i = 0; i < 40; i++) seen.add((await order({ ...input, config: { ...defaults(), route_select: 'random' } }, dests))[0]!.id)
    expect([...seen].sort()).toEqual(['h1:22', 'h2:22', 'h3:22'])
    state.close()
  })
})
