/**
 * Picking a destination: sticky reuse first (live connections of user@service, then the
 * remembered destination), else the route_select order, walking it until a host checks up.
 */
import type { Config } from './config'
import type { Dest } from './dest'
import { type AlongsideProbe, checkHost } from './health'
import type { Connection, HostState, State } from './state/types'

export interface Selection {
  dest?: Dest
  /** how it was chosen, for the debug log */
  why: string
  /** hosts tried and found down or disabled, in order */
  skipped: string[]
}

export interface SelectInput {
  state: State
  config: Pick<
    Config,
    'route_select' | 'mode' | 'sticky_ttl' | 'check_interval' | 'check_timeout' | 'service'
  >
  dests: Dest[]
  user: string
  random?: () => number
  /** started beside every probe (see checkHost) */
  alongsideProbe?: AlongsideProbe
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

type Load = { user: number; all: number }

/** Per-destination load of the user and of everyone: connection counts, or bandwidth². */
function loads(conns: Connection[], user: string, bandwidth: boolean): Map<string, Load> {
  const m = new Map<string, Load>()
  for (const c of conns) {
    const l = m.get(c.dest) ?? { user: 0, all: 0 }
    // bandwidth: sshproxy's score, BwIn² + BwOut² + N, with kB/s as the unit
    const w = bandwidth ? 1 + (c.bwIn / 1000) ** 2 + (c.bwOut / 1000) ** 2 : 1
    if (c.user === user) l.user += w
    l.all += w
    m.set(c.dest, l)
  }
  return m
}

/** The candidates in the order route_select gives them. */
export async function order(input: SelectInput, candidates: Dest[]): Promise<Dest[]> {
  const random = input.random ?? Math.random
  const how = input.config.route_select
  if (how === 'ordered') return candidates
  const shuffled = shuffle(candidates, random)
  if (how === 'random') return shuffled
  const load = loads(await input.state.connections(), input.user, how === 'bandwidth')
  const zero: Load = { user: 0, all: 0 }
  // a stable sort over a shuffled list breaks ties at random
  return shuffled.sort((a, b) => {
    const la = load.get(a.id) ?? zero
    const lb = load.get(b.id) ?? zero
    return la.user - lb.user || la.all - lb.all
  })
}

export async function selectDest(input: SelectInput): Promise<Selection> {
  const { state, config, dests, user } = input
  // both reads at once: with etcd each is a round trip
  const [hosts, live] = await Promise.all([
    state.hosts(),
    config.mode === 'sticky' ? state.connections({ user, service: config.service }) : [],
  ])
  const known = new Map<string, HostState>(hosts.map((h) => [h.id, h]))
  const skipped: string[] = []
  const tried = new Set<string>()
  const usable = async (d: Dest): Promise<boolean> => {
    if (tried.has(d.id)) return false
    tried.add(d.id)
    const s = await checkHost(state, d, config, known.get(d.id), input.alongsideProbe)
    if (s !== 'up') skipped.push(`${d.id} (${s})`)
    return s === 'up'
  }
  const candidates = dests.filter((d) => {
    if (!known.get(d.id)?.disabled) return true
    skipped.push(`${d.id} (disabled)`)
    tried.add(d.id)
    return false
  })
  if (config.mode === 'sticky') {
    const previous = [...live.reverse().map((c) => c.dest)]
    if (previous.length === 0 && config.sticky_ttl > 0) {
      const remembered = await state.recall(user, config.service)
      if (remembered) previous.push(remembered)
    }
    for (const id of new Set(previous)) {
      const d = candidates.find((x) => x.id === id)
      if (d && (await usable(d))) return { dest: d, why: `sticky to ${id}`, skipped }
    }
  }
  for (const d of await order(input, candidates)) {
    if (await usable(d)) return { dest: d, why: `${config.route_select}`, skipped }
  }
  return { why: 'none up', skipped }
}
