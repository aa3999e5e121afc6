/** `burrow route ctl show …`: the tables of hosts, connections and users, and the effective config. */
import { stringify } from 'yaml'
import { fail } from '../core/errors'
import type { LoadedConfig } from './config'
import { allDests, effectiveConfig } from './config'
import { currentUser } from './identity'
import type { Connection, State } from './state/types'
import { rate, type Table, time } from './table'

export interface ShowFlags {
  csv?: boolean
  json?: boolean
  all?: boolean
  user?: string
  groups?: string
  source?: string
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)

export async function showHosts(loaded: LoadedConfig, state: State): Promise<Table> {
  const [hosts, conns, sticky] = await Promise.all([
    state.hosts(),
    state.connections(),
    state.sticky(),
  ])
  const ids = [...new Set([...allDests(loaded).map((d) => d.id), ...hosts.map((h) => h.id)])]
  const rows = ids.map((id) => {
    const h = hosts.find((x) => x.id === id)
    const mine = conns.filter((c) => c.dest === id)
    const st = h ? (h.disabled ? 'disabled' : h.state) : 'unknown'
    return [
      id,
      st,
      time(h?.ts ?? 0),
      mine.length,
      rate(sum(mine.map((c) => c.bwIn))),
      rate(sum(mine.map((c) => c.bwOut))),
      sticky.filter((s) => s.dest === id).length,
    ]
  })
  return {
    columns: ['Host', 'State', 'Last check', '# of conns', 'Bw in', 'Bw out', '# sticky'],
    rows,
  }
}

export function showConnections(conns: Connection[], all: boolean): Table {
  if (all) {
    const rows = conns.map((c) => [
      c.user,
      c.service,
      c.from,
      c.dest,
      c.gateway,
      c.sshd,
      time(c.start),
      c.id,
      rate(c.bwIn),
      rate(c.bwOut),
    ])
    return {
      columns: [
        'User',
        'Service',
        'From',
        'Destination',
        'Gateway',
        'Sshd',
        'Start time',
        'Session',
        'Bw in',
        'Bw out',
      ],
      rows,
    }
  }
  const groups = new Map<string, Connection[]>()
  for (const c of conns) {
    const k = JSON.stringify([c.user, c.service, c.dest])
    groups.set(k, [...(groups.get(k) ?? []), c])
  }
  const rows = [...groups.values()].map((g) => {
    const c = g[0]!
    return [
      c.user,
      c.service,
      c.dest,
      g.length,
      time(Math.max(...g.map((x) => x.start))),
      rate(sum(g.map((x) => x.bwIn))),
      rate(sum(g.map((x) => x.bwOut))),
    ]
  })
  return {
    columns: ['User', 'Service', 'Destination', '# of conns', 'Last connection', 'Bw in', 'Bw out'],
    rows,
    footer: [
      'Total',
      '',
      '',
      conns.length,
      '',
      rate(sum(conns.map((c) => c.bwIn))),
      rate(sum(conns.map((c) => c.bwOut))),
    ],
  }
}

export function showUsers(conns: Connection[]): Table {
  const users = [...new Set(conns.map((c) => c.user))].sort()
  const rows = users.map((u) => {
    const mine = conns.filter((c) => c.user === u)
    // '' = other users' sessions, which the state service shows a non-admin only as load
    if (u === '')
      return [
        '(others)',
        '-',
        mine.length,
        '-',
        rate(sum(mine.map((c) => c.bwIn))),
        rate(sum(mine.map((c) => c.bwOut))),
      ]
    const r = Bun.spawnSync(['id', '-Gn', '--', u], { stdout: 'pipe', stderr: 'ignore' })
    const groups = r.exitCode === 0 ? r.stdout.toString().trim().split(/\s+/).join(',') : '-'
    return [
      u,
      groups,
      mine.length,
      [...new Set(mine.map((c) => c.service))].join(','),
      rate(sum(mine.map((c) => c.bwIn))),
      rate(sum(mine.map((c) => c.bwOut))),
    ]
  })
  return { columns: ['User', 'Groups', '# of conns', 'Services', 'Bw in', 'Bw out'], rows }
}

export function showConfig(loaded: LoadedConfig, f: ShowFlags): string {
  const user = f.user ?? currentUser().user
  const groups = f.groups?.split(',').filter(Boolean)
  let source = { ip: '', port: 0 }
  if (f.source) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):([0-9]+)$/.exec(f.source)
    if (!m)
      fail(
        `parse --source '${f.source}'`,
        'expected IP:PORT of the gateway sshd, e.g. 192.0.2.1:22',
      )
    source = { ip: (m[1] ?? m[2])!, port: Number(m[3]) }
  }
  const lookup = () => {
    const r = Bun.spawnSync(['id', '-Gn', user], { stdout: 'pipe', stderr: 'ignore' })
    return r.exitCode === 0 ? r.stdout.toString().trim().split(/\s+/) : []
  }
  const eff = effectiveConfig(loaded, { user, groups: groups ? () => groups : lookup, source })
  const head = [`# effective config for user ${user}${f.source ? ` on ${f.source}` : ''}`]
  head.push(
    eff.applied.length ? `# overrides applied: ${eff.applied.join(', ')}` : '# no override applies',
  )
  head.push(`# destinations: ${eff.dests.map((d) => d.id).join(', ') || '(none)'}`)
  const ms = (n: number) => `${n / 1000}s`
  const c = eff.config
  const shown = {
    ...c,
    sticky_ttl: ms(c.sticky_ttl),
    check_interval: ms(c.check_interval),
    check_timeout: ms(c.check_timeout),
    etcd: { ...c.etcd, keyttl: ms(c.etcd.keyttl), password: c.etcd.password ? '(set)' : '' },
  }
  return `${head.join('\n')}\n${stringify(shown)}`
}

/** Destinations named on the command line (nodesets allowed), or every one in the config. */
