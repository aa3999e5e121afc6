/**
 * `burrow route check` and `burrow route ctl …`: the admin side of the state store. Reads the
 * same route.yaml as the sessions, so both see the same store; etcd must answer here (no
 * fallback: an admin command against the wrong store would mislead).
 */
import { fail } from '../core/errors'
import { logger } from '../core/log'
import type { LoadedConfig } from './config'
import { allDests, defaults, loadConfig, merge } from './config'
import { expandDests } from './dest'
import { checkAll } from './health'
import { parseDuration } from '../core/schema'
import { openState } from './state'
import type { State } from './state/types'
import { type ShowFlags, showConfig, showConnections, showHosts, showUsers } from './ctl-show'
import { type Format, render, time } from './table'

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
