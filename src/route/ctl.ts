/**
 * `burrow route check` and `burrow route ctl …`: the admin side of the state store. Reads the
 * same route.yaml as the sessions, so both see the same store; etcd must answer here (no
 * fallback: an admin command against the wrong store would mislead).
 */
import { stringify } from 'yaml'
import { fail } from '../core/errors'
import { logger } from '../core/log'
import type { LoadedConfig } from './config'
import { allDests, defaults, effectiveConfig, loadConfig, merge } from './config'
import { expandDests } from './dest'
import { checkAll } from './health'
import { currentUser } from './identity'
import { parseDuration } from '../core/schema'
import { openState } from './state'
import type { Connection, State } from './state/types'
import { type Format, rate, render, type Table, time } from './table'

async function open(
  file: string,
): Promise<{ loaded: LoadedConfig; state: State; timeout: number }> {
  const loaded = loadConfig(file)
  const top = merge(defaults(), loaded.top)
  return { loaded, state: await openState(top, { fallback: false }), timeout: top.check_timeout }
}

async function withState<T>(
  file: string,
  fn: (s: { loaded: LoadedConfig; state: State; timeout: number }) => Promise<T>,
): Promise<T> {
  const s = await open(file)
  try {
    return await fn(s)
  } finally {
    s.state.close()
  }
}

export async function runCheck(file: string, every?: string): Promise<void> {
  const interval = every === undefined ? undefined : parseDuration(every)
  if (every !== undefined && !interval)
    fail(`parse --every '${every}'`, 'expected a duration such as 30s or 5m')
  for (;;) {
    await withState(file, async ({ loaded, state, timeout }) => {
      for (const { dest, probe } of await checkAll(state, allDests(loaded), timeout)) {
        const line = `${dest.id} ${probe.up ? 'up' : `down (${probe.reason})`}`
        if (interval) logger.info(line)
        else process.stdout.write(`${line}\n`)
      }
    })
    if (!interval) return
    await Bun.sleep(interval)
  }
}

interface ShowFlags {
  csv?: boolean
  json?: boolean
  all?: boolean
  user?: string
  groups?: string
  source?: string
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)

export async function runShow(file: string, what: string, flags: ShowFlags): Promise<void> {
  const format: Format = flags.json ? 'json' : flags.csv ? 'csv' : 'table'
  if (what === 'config') return void process.stdout.write(showConfig(loadConfig(file), flags))
  const table = await withState(file, async ({ loaded, state }) => {
    switch (what) {
      case 'hosts':
        return showHosts(loaded, state)
      case 'connections':
        return showConnections(await state.connections(), flags.all === true)
      case 'users':
        return showUsers(await state.connections())
      case 'sticky': {
        const rows = (await state.sticky()).map((s) => [s.user, s.service, s.dest, time(s.expire)])
        return { columns: ['User', 'Service', 'Destination', 'Until'], rows }
      }
      case 'banner': {
        const b = await state.banner()
        const configured = merge(defaults(), loaded.top).error_banner
        const rows: (string | number)[][] = []
        if (b) rows.push(['ctl', b.text, b.expire ? time(b.expire) : 'never'])
        if (configured) rows.push(['config', configured, 'never'])
        return { columns: ['Source', 'Banner', 'Expires'], rows }
      }
    }
    fail(`show '${what}'`, 'expected hosts, users, connections, sticky, banner or config')
  })
  process.stdout.write(render(table, format))
}

async function showHosts(loaded: LoadedConfig, state: State): Promise<Table> {
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

function showConnections(conns: Connection[], all: boolean): Table {
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

function showUsers(conns: Connection[]): Table {
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

function showConfig(loaded: LoadedConfig, f: ShowFlags): string {
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
function targets(loaded: LoadedConfig, hosts: string[] | undefined): string[] {
  if (!hosts) return allDests(loaded).map((d) => d.id)
  if (hosts.length === 0) fail('change hosts', 'name at least one host, or pass --all')
  try {
    return expandDests(hosts).map((d) => d.id)
  } catch (err) {
    fail('parse the host list', (err as Error).message)
  }
}

export async function runEnable(
  file: string,
  enable: boolean,
  hosts: string[] | undefined,
): Promise<void> {
  await withState(file, async ({ loaded, state }) => {
    for (const id of targets(loaded, hosts)) {
      await state.setDisabled(id, !enable)
      process.stdout.write(`${id} ${enable ? 'enabled' : 'disabled'}\n`)
    }
  })
}

export async function runForget(
  file: string,
  what: string,
  f: { host?: string; all?: boolean; user?: string; service?: string; dest?: string },
): Promise<void> {
  await withState(file, async ({ loaded, state }) => {
    if (what === 'host') {
      const ids = f.all
        ? (await state.hosts()).map((h) => h.id)
        : targets(loaded, f.host ? [f.host] : [])
      for (const id of ids) await state.forgetHost(id)
      process.stdout.write(`forgot ${ids.length} host(s)\n`)
    } else if (what === 'sticky') {
      const dest = f.dest ? targets(loaded, [f.dest])[0] : undefined
      const n = await state.forgetSticky({ user: f.user, service: f.service, dest })
      process.stdout.write(`forgot ${n} sticky entr${n === 1 ? 'y' : 'ies'}\n`)
    } else if (what === 'banner') {
      await state.clearBanner()
      process.stdout.write('banner cleared\n')
    } else fail(`forget '${what}'`, 'expected host, sticky or banner')
  })
}

/** `2h`, `30m`, or a local date `YYYY-MM-DD[ HH:MM[:SS]]` → ms since the epoch. */
export function parseExpire(text: string, now = Date.now()): number {
  const d = parseDuration(text)
  if (d) return now + d
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[ T]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?)?$/.exec(
    text,
  )
  if (!m)
    fail(`parse --expire '${text}'`, "expected a duration (2h) or a date 'YYYY-MM-DD[ HH:MM[:SS]]'")
  const [, y, mo, da, h = '0', mi = '0', s = '0'] = m
  const t = new Date(
    Number(y),
    Number(mo) - 1,
    Number(da),
    Number(h),
    Number(mi),
    Number(s),
  ).getTime()
  if (t <= now) fail(`parse --expire '${text}'`, 'that time has passed')
  return t
}

export async function runBanner(
  file: string,
  message: string | undefined,
  expire?: string,
): Promise<void> {
  await withState(file, async ({ state }) => {
    if (message === undefined) {
      await state.clearBanner()
      process.stdout.write('banner cleared\n')
      return
    }
    const until = expire ? parseExpire(expire) : undefined
    await state.setBanner(message, until)
    process.stdout.write(`banner set${until ? ` until ${time(until)}` : ''}\n`)
  })
}
