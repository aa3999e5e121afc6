/**
 * One SSH `session` channel (RFC 4254 §6) carried into an Incus exec: pty-req, env, shell, exec,
 * window-change, signal, EOF and exit status. Flow control runs both ways: a full SSH window
 * pauses the Incus websocket, a slow websocket pauses the channel.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { PseudoTtyInfo, ServerChannel, Session } from 'ssh2'
import { BurrowError } from '../../core/errors'
import { logger } from '../../core/log'
import type { IncusClient } from '../../incus'
import { IncusError } from '../../incus'
import { buildExec, envAllowed } from './command'
import type { Identity } from '../auth/auth'
import type { InstanceUser } from './instance'
import type { Login } from '../auth/login'
import { asLogin, formatTarget } from '../auth/login'
import { prepareOrCreate } from './create'
import { checkIncusShell, runIncusShell } from './incus-shell'
import { ensureMux } from './persistent'
import { withToolCheck } from '../files/scp'
import { hasSftpServer, SFTP_SERVER_COMMAND, serveNativeSftp } from '../files/sftp'
import { coalesceWrites } from '../forward/pipe'
import type { SessionOptions } from './options'
import type { SessionState } from './session-exec'
import { finish, runExec, SIGNALS, stop } from './session-exec'
import type { SessionCommand } from '../policy'
import {
  keyEnvironment,
  mayAllocatePty,
  mayForwardAgent,
  mayForwardX11,
  mayUseIncusShell,
  sessionCommand,
} from '../policy'

export function handleSession(session: Session, id: Identity, opts: SessionOptions): void {
  const st: SessionState = {
    id,
    opts,
    env: {},
    marker: '',
    started: false,
    agent: false,
    sent: new Set(),
  }
  onSetupRequests(session, st)
  // no 'sftp' listener: ssh2 then hands the sftp subsystem over as a raw channel
  session.on('subsystem', (accept, reject, info) => {
    if (info.name !== 'sftp' || st.started) return reject?.()
    st.started = true
    const channel = accept()
    const run = sessionCommand(id, info.name)
    if (run.forced) return void start(st, channel, run)
    coalesceWrites(channel)
    void sftpClient(st).then((client) =>
      client
        ? serveNativeSftp(channel, client, id.target.instance, id.target.project)
        : start(st, channel, { command: SFTP_SERVER_COMMAND, env: {}, forced: false }),
    )
  })
  session.on('shell', (accept) => {
    st.started = true
    void start(st, accept(), sessionCommand(id, undefined))
  })
  session.on('exec', (accept, _reject, info) => {
    st.started = true
    const run = sessionCommand(id, info.command)
    if (!run.forced) run.command = withToolCheck(info.command, id.target.instance)
    void start(st, accept(), run)
  })
}

/** pty-req, window-change, env, signal, auth-agent-req and x11-req (policy.ts decides). */
function onSetupRequests(session: Session, st: SessionState): void {
  session.on('pty', (accept, reject, info: PseudoTtyInfo) => {
    if (!mayAllocatePty(st.id)) return reject?.()
    st.pty = {
      term: (info as PseudoTtyInfo & { term?: string }).term ?? 'xterm-256color',
      cols: info.cols || 80,
      rows: info.rows || 24,
    }
    accept?.()
  })
  session.on('window-change', (accept, _reject, info) => {
    if (st.pty) Object.assign(st.pty, { cols: info.cols, rows: info.rows })
    st.exec?.resize(info.cols, info.rows)
    st.shellTerm?.resize(info.cols, info.rows)
    accept?.()
  })
  session.on('env', (accept, reject, info) => {
    if (!st.started && envAllowed(info.key, st.opts.acceptEnv)) {
      st.env[info.key] = info.val
      return accept?.()
    }
    logger.debug(`env ${JSON.stringify(info.key)} refused`)
    reject?.()
  })
  session.on('signal', (accept, reject, info) => {
    const n = SIGNALS[info.name]
    if (!st.exec || n === undefined) return reject?.()
    st.sent.add(n)
    st.exec.signal(n)
    accept?.()
  })
  session.on('auth-agent', (accept, reject) => {
    if (!st.opts.forwarding || st.started || !mayForwardAgent(st.id)) return reject?.()
    st.agent = true
    accept?.()
  })
  session.on('x11', (accept, reject) => (mayForwardX11(st.id) ? accept?.() : reject?.()))
}

/** the instance's own sftp-server as the user; Incus's SFTP endpoint for root without one */
async function sftpClient(st: SessionState): Promise<IncusClient | undefined> {
  const t = st.id.target
  return st.opts.instances
    .prepare(asLogin(t))
    .then(async ({ client, user }) =>
      user.uid === 0 && !(await hasSftpServer(client, t.instance, t.project)) ? client : undefined,
    )
    .catch(() => undefined)
}

/** Runs the session's command (or shell) and reports its exit; every failure is one line. */
async function start(st: SessionState, channel: ServerChannel, run: SessionCommand): Promise<void> {
  const nl = st.pty ? '\r\n' : '\n'
  coalesceWrites(channel)
  let closed = false
  channel.on('close', () => {
    closed = true
    if (st.exec?.running) void stop(st, st.exec)
  })
  try {
    const t = asLogin(st.id.target)
    if (t.command === 'shell') {
      if (run.forced)
        throw new BurrowError(
          'Failed to run %shell: this key may only run its command= (authorized_keys)',
        )
      checkIncusShell(
        st.opts.access ? mayUseIncusShell(st.opts.access) : undefined,
        t.hostUser,
        st.pty,
      )
      logger.info(`%shell for host user ${t.hostUser} (${st.opts.connection})`)
      st.shellTerm = runIncusShell(channel, st.pty!, (code) => finish(channel, code, st.sent))
      return
    }
    if (t.command !== undefined)
      throw new BurrowError(
        `Failed to run %${t.command}: host commands are not supported by this version of burrow serve`,
      )
    // a forced command replaces the persistent session's multiplexer too
    const persistent = t.persistent && !run.forced
    if (persistent && !st.pty)
      throw new BurrowError('Failed to attach a persistent session: it needs a terminal (ssh -t)')
    const target = await reachTarget(st, channel, t, persistent, nl, () => closed)
    if (!target || closed) return
    const { client, user } = target
    if (run.command === undefined && st.opts.welcome) {
      const text = template(st.opts.welcome, st.id).replace(/\r?\n$/, '')
      channel.write(`${text.replace(/\r?\n/g, nl)}${nl}`)
    }
    st.marker = randomBytes(12).toString('hex')
    const req = buildExec({
      user,
      mode: st.opts.shell,
      command: run.command,
      pty: st.pty,
      persistent,
      mux: st.opts.mux,
      clientEnv: {
        ...st.env,
        ...keyEnvironment(st.id, !!st.opts.permitUserEnvironment),
        ...run.env,
      },
      connection: st.opts.connection,
      marker: st.marker,
    })
    if (st.agent && st.opts.forwarding) {
      // Incus may refuse the proxy device (restricted projects block them): the session goes on
      const sock = await st.opts.forwarding.agent(client, t, user).catch((err: Error) => {
        channel.stderr.write(`burrow: agent forwarding unavailable: ${err.message}${nl}`)
        return undefined
      })
      if (sock) req.environment = { ...req.environment, SSH_AUTH_SOCK: sock }
    }
    logger.debug(`exec in ${t.instance}: ${JSON.stringify(req.command)}`)
    await runExec(st, channel, client, t, req, () => closed)
  } catch (err) {
    const msg =
      err instanceof BurrowError
        ? err.message
        : `unexpected error: ${err instanceof Error ? err.message : String(err)}`
    if (!(err instanceof BurrowError)) logger.error(err)
    logger.info(`session for ${formatTarget(st.id.target)}: ${msg}`)
    if (closed) return
    channel.stderr.write(`burrow: ${msg}${nl}`)
    finish(channel, 1, st.sent)
  }
}

/** The instance running (created when the login asks), its user, and the multiplexer. */
async function reachTarget(
  st: SessionState,
  channel: ServerChannel,
  t: Login,
  persistent: boolean,
  nl: string,
  closed: () => boolean,
): Promise<{ client: IncusClient; user: InstanceUser } | undefined> {
  const { opts } = st
  await opts.checkHealth?.()
  const res = await prepareOrCreate(
    opts.instances,
    st.id.target,
    t,
    opts.createDefaults,
    (line) => st.pty && channel.stderr.write(`burrow: ${line}${nl}`),
    // creation takes seconds: show its progress with or without a terminal
    (line) => !closed() && channel.stderr.write(`burrow: ${line}${nl}`),
  ).catch(async (err) => {
    // Incus unreachable (no HTTP status): let the health check say so in its one line
    if (err instanceof IncusError && err.code === 0) await opts.checkHealth?.(true)
    throw err
  })
  if (closed()) return undefined
  if (persistent)
    await ensureMux(res.client, t.instance, t.project, opts.mux ?? 'tmux', (line) =>
      channel.stderr.write(`burrow: ${line}${nl}`),
    )
  return res
}

/** [INSTANCE_USER] [INSTANCE] [PROJECT] [REMOTE] [HOSTNAME] as in ssh2incus' banner and welcome */
export function template(text: string, id: Pick<Identity, 'target'>): string {
  const t = id.target
  const vars: Record<string, string> = {
    INSTANCE_USER: t.kind === 'login' ? t.instanceUser : 'root',
    INSTANCE: t.instance,
    PROJECT: t.project,
    REMOTE: t.remote || 'local',
    HOSTNAME: hostname(),
  }
  return text.replace(
    /\[(INSTANCE_USER|INSTANCE|PROJECT|REMOTE|HOSTNAME)\]/g,
    (_, k: string) => vars[k]!,
  )
}
