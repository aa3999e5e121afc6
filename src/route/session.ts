/**
 * One routed session, as sshd's ForceCommand: who connects (user, groups, SSH_CONNECTION),
 * where to (selection), then the system ssh with our stdio, registered in the state store for
 * its whole life; the exit code is ssh's.
 */
import { createHash } from 'node:crypto'
import { hostname } from 'node:os'
import { fail } from '../core/errors'
import { logger, setDebug } from '../core/log'
import { buildSshCommand, checkCommand, type SshCommand } from './command'
import type { Config, Identity } from './config'
import { effectiveConfig, loadConfig } from './config'
import type { Dest } from './dest'
import { type Child, spawnPlain, superviseChild } from './child'
import { type Selection, selectDest } from './select'
import { appendAudit, auditText, expandUser } from './audit'
import { currentUser } from './identity'
import { refuseRuntimeEnv } from './policy'
import { openState } from './state'
import type { AuditEvent, Registration, State } from './state/types'

export interface Endpoint {
  ip: string
  port: number
}

/** `client_ip client_port server_ip server_port`, as sshd sets it. */
export function parseSshConnection(text: string | undefined): { from: Endpoint; sshd: Endpoint } {
  if (!text)
    fail(
      'start route',
      "SSH_CONNECTION is not set: `burrow route` runs as sshd's ForceCommand (see docs/route.md)",
    )
  const m = /^([0-9A-Fa-f.:]+) ([0-9]{1,5}) ([0-9A-Fa-f.:]+) ([0-9]{1,5})$/.exec(text.trim())
  if (!m)
    fail(
      'start route',
      `SSH_CONNECTION '${text}' is not 'client_ip client_port server_ip server_port'`,
    )
  return { from: { ip: m[1]!, port: Number(m[2]) }, sshd: { ip: m[3]!, port: Number(m[4]) } }
}

export const endpoint = (e: Endpoint) =>
  e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`

/** sshproxy's id: 10 hex digits of SHA-1 over user, client and the time in ns. */
export function sessionId(user: string, from: string): string {
  return createHash('sha1')
    .update(`${user}@${from}@${process.hrtime.bigint()}`)
    .digest('hex')
    .slice(0, 10)
    .toUpperCase()
}

const expand = (text: string, vars: Record<string, string>) =>
  text.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m)

/** Through the state service the service writes the line (attributed by uid); else the session does. */
async function audit(state: State, config: Config, user: string, e: AuditEvent): Promise<void> {
  if (state.audit) {
    if (e.kind === 'nodest')
      await state
        .audit(e)
        .catch((err) => logger.debug(`Failed to write the audit line: ${(err as Error).message}`))
    return
  }
  if (config.log) appendAudit(expandUser(config.log, user), auditText(user, e))
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
  refuseRuntimeEnv(env)
  // the config first: a bad route.yaml is what someone trying it by hand needs to hear about
  const loaded = loadConfig(opts.configPath)
  const { from, sshd } = parseSshConnection(env.SSH_CONNECTION)
  // who connects: the kernel's uid and groups, never $USER (policy.ts, rule "identity")
  const me = currentUser()
  const user = me.user
  const who: Identity = { user, groups: me.groups, source: sshd }
  const { config, dests } = effectiveConfig(loaded, who)
  if (config.debug) setDebug(true)
  const sid = sessionId(user, endpoint(from))
  const original = env.SSH_ORIGINAL_COMMAND ?? ''
  logger.debug(
    `${sid}: ${user} connected from ${endpoint(from)} to sshd listening on ${endpoint(sshd)}`,
  )
  if (dests.length === 0)
    fail(
      `route ${user}@${config.service}`,
      `no destination set for service '${config.service}' (set dest: in ${opts.configPath})`,
    )

  const state = await openState(config)
  if (state.warning) logger.warn(state.warning)
  try {
    return await routeWith(state, {
      config,
      dests,
      user,
      sid,
      from: endpoint(from),
      sshd: endpoint(sshd),
      original,
      env,
    })
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

/** time since burrow started, for debug lines */
const since = () => `+${performance.now().toFixed(1)} ms`

/** ssh started while its destination is probed */
interface Early {
  dest: Dest
  cmd: SshCommand
  child: Child
  exited: Promise<number>
}

async function stop(child: Child, exited: Promise<number>): Promise<void> {
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
  await exited
  clearTimeout(timer)
}

async function routeWith(state: State, r: Routed): Promise<number> {
  const { config, user, sid } = r
  const what = `route ${user}@${config.service}`
  if (config.max_connections_per_user > 0) {
    const n = (await state.connections({ user })).length
    if (n >= config.max_connections_per_user) {
      fail(
        what,
        `too many simultaneous connections (${n} open, at most ${config.max_connections_per_user} allowed)`,
      )
    }
  }
  // a refused command never reaches a host, not even a probe
  checkCommand(config, r.original)
  const { selfCommand } = await import('../proxy/install-config')
  const tty = process.stdout.isTTY === true && process.stdin.isTTY === true
  const self = selfCommand()
  const sshCommand = (dest: Dest) =>
    buildSshCommand({ config, dest, original: r.original, tty, self })
  const recorded = (cmd: SshCommand) => config.dump !== '' && !cmd.disableDump
  const vars = { user, sid, service: config.service }
  const childEnv: Record<string, string | undefined> = { ...r.env }
  for (const [k, v] of Object.entries(config.environment)) childEnv[k] = expand(v, vars)
  // ssh starts its ProxyCommand (burrow's, command.ts) through $SHELL, and the user's shell could
  // read start-up files for it (tcsh ~/.cshrc, zsh ~/.zshenv); `environment:` may say otherwise
  const sshEnv = Object.hasOwn(config.environment, 'SHELL')
    ? childEnv
    : { ...childEnv, SHELL: '/bin/sh' }

  // A probe waits for the host's sshd to fork and start; the session's ssh makes it do that
  // again. So ssh starts beside the probe and is stopped if the host turns out down, before the
  // next host is tried. Only where that leaves no trace: nothing must run before connecting,
  // the session is not recorded, and ssh is quiet (-q), so a stopped attempt prints nothing.
  let early: Early | undefined
  const speculate = config.blocking_command.length === 0 && config.ssh.args.includes('-q')
  const alongsideProbe = !speculate
    ? undefined
    : (dest: Dest) => {
        const cmd = sshCommand(dest)
        if (recorded(cmd)) return undefined
        const child = spawnPlain(cmd.argv, sshEnv)
        const started: Early = { dest, cmd, child, exited: superviseChild(child) }
        early = started
        logger.debug(`${sid}: ${since()} ${cmd.argv.join(' ')} (while ${dest.id} is checked)`)
        return async (up: boolean) => {
          if (up) return
          early = undefined
          await stop(started.child, started.exited)
        }
      }
  let picked: Selection
  try {
    picked = await selectDest({ state, config, dests: r.dests, user, alongsideProbe })
  } catch (err) {
    if (early) await stop(early.child, early.exited)
    throw err
  }
  if (early && early.dest.id !== picked.dest?.id) {
    // not reached: a host whose probe passes is the one picked
    await stop(early.child, early.exited)
    early = undefined
  }
  if (!picked.dest) {
    const banner = (await state.banner())?.text || config.error_banner
    if (banner) process.stderr.write(`${banner.trimEnd()}\n`)
    await audit(state, config, user, {
      kind: 'nodest',
      sid,
      service: config.service,
      from: r.from,
      sshd: r.sshd,
    })
    fail(what, `no destination is up (tried ${picked.skipped.join(', ')}); try again later`)
  }
  const dest = picked.dest
  logger.debug(
    `${sid}: ${since()} ${picked.skipped.length ? `skipped ${picked.skipped.join(', ')}; ` : ''}${picked.why} → ${dest.id}`,
  )
  const cmd = early?.cmd ?? sshCommand(dest)

  const start = Date.now()
  let registration: Registration | undefined
  // registered before ssh starts when recording (the recorder reports bandwidth to it), else
  // while ssh connects: the state writes are not on the session's way
  const register = async () => {
    const [reg] = await Promise.all([
      state
        .register(
          {
            id: sid,
            user,
            service: config.service,
            dest: dest.id,
            from: r.from,
            sshd: r.sshd,
            gateway: hostname(),
            start,
            bwIn: 0,
            bwOut: 0,
          },
          config.etcd.keyttl,
          r.original,
        )
        .catch((err) =>
          logger.warn(
            `session ${sid} is not counted in ${state.name} state: ${(err as Error).message}`,
          ),
        ),
      config.sticky_ttl > 0
        ? state.remember(user, config.service, dest.id, config.sticky_ttl).catch(() => {})
        : undefined,
    ])
    registration = reg ?? undefined
    await audit(state, config, user, {
      kind: 'start',
      sid,
      service: config.service,
      from: r.from,
      sshd: r.sshd,
      dest: dest.id,
      command: r.original,
    })
  }

  let registered: Promise<void> | undefined
  const registerOnce = () => (registered ??= register())
  let bg: Child | undefined
  let running: { child: Child; exited: Promise<number> } | undefined = early
  let code: number | undefined
  try {
    if (!running && config.blocking_command.length) {
      // counted and logged while it runs, as the session it belongs to
      await registerOnce()
      const rc = await runBlocking(config.blocking_command)
      if (rc !== 0)
        fail(what, `blocking_command '${config.blocking_command.join(' ')}' exited with ${rc}`)
    }
    if (config.bg_command.length) {
      bg = spawnPlain(config.bg_command, childEnv, { quiet: true })
    }
    if (!running && recorded(cmd)) {
      await registerOnce()
      logger.debug(`${sid}: ${since()} ${cmd.argv.join(' ')}`)
      const { runRecorded } = await import('./record')
      const path = expand(config.dump, { ...vars, time: new Date(start).toISOString() })
      code = await runRecorded({
        argv: cmd.argv,
        env: sshEnv,
        path,
        tty,
        registration,
        header: { user, sid, from: r.from, sshd: r.sshd, dest: dest.id, command: r.original },
      })
    } else {
      if (!running) {
        logger.debug(`${sid}: ${since()} ${cmd.argv.join(' ')}`)
        const child = spawnPlain(cmd.argv, sshEnv)
        running = { child, exited: superviseChild(child) }
      }
      await registerOnce()
      code = await running.exited
      running = undefined
    }
    logger.debug(`${sid}: ${since()} ssh exited with ${code}`)
  } finally {
    // an error before ssh ended must not leave it behind
    if (running) await stop(running.child, running.exited)
    bg?.kill('SIGTERM')
    // both at once: with etcd each is a round trip the client waits for
    await Promise.all([
      registration
        ?.close(code)
        .catch((err) => logger.debug(`Failed to unregister ${sid}: ${(err as Error).message}`)),
      config.sticky_ttl > 0
        ? state.remember(user, config.service, dest.id, config.sticky_ttl).catch(() => {})
        : undefined,
    ])
  }
  await audit(state, config, user, {
    kind: 'end',
    sid,
    service: config.service,
    from: r.from,
    sshd: r.sshd,
    dest: dest.id,
    exit: code,
    seconds: (Date.now() - start) / 1000,
  })
  return code!
}
