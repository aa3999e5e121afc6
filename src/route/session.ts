/**
 * One routed session, as sshd's ForceCommand: who connects (user, groups, SSH_CONNECTION),
 * where to (selection), then the system ssh with our stdio, registered in the state store for
 * its whole life; the exit code is ssh's.
 */
import { createHash } from 'node:crypto'
import { appendFileSync } from 'node:fs'
import { hostname, userInfo } from 'node:os'
import { fail } from '../core/errors'
import { logger, setDebug } from '../core/log'
import { buildSshCommand } from './command'
import type { Config, Identity } from './config'
import { effectiveConfig, loadConfig } from './config'
import { type Child, spawnPlain, superviseChild } from './child'
import { selectDest } from './select'
import { openState } from './state'
import type { Registration, State } from './state/types'

export interface Endpoint {
  ip: string
  port: number
}

/** `client_ip client_port server_ip server_port`, as sshd sets it. */
export function parseSshConnection(text: string | undefined): { from: Endpoint; sshd: Endpoint } {
  if (!text) fail('start route', 'SSH_CONNECTION is not set: `burrow route` runs as sshd\'s ForceCommand (see docs/route.md)')
  const m = /^([0-9A-Fa-f.:]+) ([0-9]{1,5}) ([0-9A-Fa-f.:]+) ([0-9]{1,5})$/.exec(text.trim())
  if (!m) fail('start route', `SSH_CONNECTION '${text}' is not 'client_ip client_port server_ip server_port'`)
  return { from: { ip: m[1]!, port: Number(m[2]) }, sshd: { ip: m[3]!, port: Number(m[4]) } }
}

export const endpoint = (e: Endpoint) => (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`)

/** sshproxy's id: 10 hex digits of SHA-1 over user, client and the time in ns. */
export function sessionId(user: string, from: string): string {
  return createHash('sha1').update(`${user}@${from}@${process.hrtime.bigint()}`).digest('hex').slice(0, 10).toUpperCase()
}

function groupsOf(user: string): () => string[] {
  let cached: string[] | undefined
  return () => {
    if (cached) return cached
    const r = Bun.spawnSync(['id', '-Gn', user], { stdout: 'pipe', stderr: 'pipe' })
    cached = r.exitCode === 0 ? r.stdout.toString().trim().split(/\s+/).filter(Boolean) : []
    return cached
  }
}

const expand = (text: string, vars: Record<string, string>) => text.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m)

function audit(config: Config, user: string, line: string): void {
  if (!config.log) return
  try {
    appendFileSync(expand(config.log, { user }), `${new Date().toISOString()} ${line}\n`, { mode: 0o600 })
  } catch (err) {
    logger.debug(`Failed to write the log ${config.log}: ${(err as Error).message}`)
  }
}

async function runBlocking(cmd: string[]): Promise<number> {
  // stdout goes to stderr: in an scp or sftp session stdout carries the protocol
  const p = Bun.spawn(cmd, { stdin: 'ignore', stdout: 2, stderr: 2 })
  return p.exited
}

export interface SessionOptions {
  configPath: string
  /** defaults to process.env */
  env?: Record<string, string | undefined>
}

export async function runSession(opts: SessionOptions): Promise<number> {
  const env = opts.env ?? process.env
  const { from, sshd } = parseSshConnection(env.SSH_CONNECTION)
  const user = userInfo().username
  const who: Identity = { user, groups: groupsOf(user), source: sshd }
  const { config, dests } = effectiveConfig(loadConfig(opts.configPath), who)
  if (config.debug) setDebug(true)
  const sid = sessionId(user, endpoint(from))
  const original = env.SSH_ORIGINAL_COMMAND ?? ''
  logger.debug(`${sid}: ${user} connected from ${endpoint(from)} to sshd listening on ${endpoint(sshd)}`)
  if (dests.length === 0) fail(`route ${user}@${config.service}`, `no destination set for service '${config.service}' (set dest: in ${opts.configPath})`)

  const state = await openState(config)
  try {
    return await routeWith(state, { config, dests, user, sid, from: endpoint(from), sshd: endpoint(sshd), original, env })
  } finally {
    state.close()
  }
}

interface Routed {
  config: Config
  dests: ReturnType<typeof effectiveConfig>['dests']
  user: string
  sid: string
  from: string
  sshd: string
  original: string
  env: Record<string, string | undefined>
}

async function routeWith(state: State, r: Routed): Promise<number> {
  const { config, user, sid } = r
  const what = `route ${user}@${config.service}`
  if (config.max_connections_per_user > 0) {
    const n = (await state.connections({ user })).length
    if (n >= config.max_connections_per_user) {
      fail(what, `too many simultaneous connections (${n} open, at most ${config.max_connections_per_user} allowed)`)
    }
  }
  const picked = await selectDest({ state, config, dests: r.dests, user })
  if (!picked.dest) {
    const banner = (await state.banner())?.text || config.error_banner
    if (banner) process.stderr.write(`${banner.trimEnd()}\n`)
    audit(config, user, `${sid} ${user} from ${r.from} via ${r.sshd} service=${config.service}: no destination up`)
    fail(what, `no destination is up (tried ${picked.skipped.join(', ')}); try again later`)
  }
  const dest = picked.dest
  logger.debug(`${sid}: ${picked.skipped.length ? `skipped ${picked.skipped.join(', ')}; ` : ''}${picked.why} → ${dest.id}`)

  const { selfCommand } = await import('../core/install-config')
  const tty = process.stdout.isTTY === true && process.stdin.isTTY === true
  const cmd = buildSshCommand({ config, dest, original: r.original, tty, self: selfCommand() })
  const vars = { user, sid, service: config.service }
  const childEnv: Record<string, string | undefined> = { ...r.env }
  for (const [k, v] of Object.entries(config.environment)) childEnv[k] = expand(v, vars)

  const start = Date.now()
  let registration: Registration | undefined
  try {
    registration = await state.register(
      { id: sid, user, service: config.service, dest: dest.id, from: r.from, sshd: r.sshd, gateway: hostname(), start, bwIn: 0, bwOut: 0 },
      config.etcd.keyttl,
    )
  } catch (err) {
    logger.warn(`session ${sid} is not counted in ${state.name} state: ${(err as Error).message}`)
  }
  if (config.sticky_ttl > 0) await state.remember(user, config.service, dest.id, config.sticky_ttl).catch(() => {})
  audit(config, user, `${sid} ${user} from ${r.from} via ${r.sshd} service=${config.service} → ${dest.id} command=${JSON.stringify(r.original)}`)

  let bg: Child | undefined
  let code: number
  try {
    if (config.blocking_command.length) {
      const rc = await runBlocking(config.blocking_command)
      if (rc !== 0) fail(what, `blocking_command '${config.blocking_command.join(' ')}' exited with ${rc}`)
    }
    if (config.bg_command.length) {
      bg = spawnPlain(config.bg_command, childEnv, { quiet: true })
    }
    logger.debug(`${sid}: ${cmd.argv.join(' ')}`)
    if (config.dump && !cmd.disableDump) {
      const { runRecorded } = await import('./record')
      const path = expand(config.dump, { ...vars, time: new Date(start).toISOString() })
      code = await runRecorded({ argv: cmd.argv, env: childEnv, path, tty, registration, header: { user, sid, from: r.from, sshd: r.sshd, dest: dest.id, command: r.original } })
    } else {
      code = await superviseChild(spawnPlain(cmd.argv, childEnv))
    }
  } finally {
    bg?.kill('SIGTERM')
    await registration?.close().catch((err) => logger.debug(`Failed to unregister ${sid}: ${(err as Error).message}`))
    if (config.sticky_ttl > 0) await state.remember(user, config.service, dest.id, config.sticky_ttl).catch(() => {})
  }
  audit(config, user, `${sid} ${user} → ${dest.id} exit ${code} after ${((Date.now() - start) / 1000).toFixed(1)} s`)
  return code
}
