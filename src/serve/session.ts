/**
 * One SSH `session` channel (RFC 4254 §6) carried into an Incus exec: pty-req, env, shell, exec,
 * window-change, signal, EOF and exit status. Flow control runs both ways: a full SSH window
 * pauses the Incus websocket, a slow websocket pauses the channel.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { PseudoTtyInfo, ServerChannel, Session } from 'ssh2'
import { BurrowError } from '../core/errors'
import { logger } from '../core/log'
import { Exec, IncusError, run } from '../backends/incus'
import type { ShellMode } from './command'
import { buildExec, envAllowed, killTreeCommand } from './command'
import type { Identity } from './auth'
import type { Instances } from './instance'
import type { Login, Target } from './login'
import { formatTarget } from './login'
import type { CreateDefaults } from './create-config'
import { prepareOrCreate } from './create'
import type { ShellTerminal } from './incus-shell'
import { checkIncusShell, runIncusShell } from './incus-shell'
import type { TermMux } from './persistent'
import { ensureMux } from './persistent'
import type { Forwarding } from './forward'
import { withToolCheck } from './scp'
import { hasSftpServer, SFTP_SERVER_COMMAND, serveNativeSftp } from './sftp'
import { coalesceWrites } from './pipe'

export interface SessionOptions {
  instances: Instances
  shell: ShellMode
  acceptEnv: string[]
  welcome?: string
  /** "client-ip client-port server-ip server-port" */
  connection: string
  /** --allow-create: the create-config.yaml defaults; undefined = creation off */
  createDefaults?: CreateDefaults
  /** --term-mux for `/instance` logins (default tmux) */
  mux?: TermMux
  /** --healthcheck: throws one line while incusd is down; `recheck` after a failed request */
  checkHealth?: (recheck?: boolean) => Promise<void>
  /** the connection's forwarding (agent sockets live there); undefined = no agent forwarding */
  forwarding?: Forwarding
}

// RFC 4254 §6.10 names → Linux signal numbers (the same on x86 and arm)
const SIGNALS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  ABRT: 6,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
}

export function handleSession(session: Session, id: Identity, opts: SessionOptions): void {
  let pty: { term: string; cols: number; rows: number } | undefined
  const env: Record<string, string> = {}
  let exec: Exec | undefined
  let marker = ''
  let started = false
  let shellTerm: ShellTerminal | undefined
  // signals forwarded to the process: an exit status of 128+N after one of them was that signal
  const sent = new Set<number>()

  session.on('pty', (accept, reject, info: PseudoTtyInfo) => {
    if (id.key?.noPty) return reject?.()
    pty = {
      term: (info as PseudoTtyInfo & { term?: string }).term ?? 'xterm-256color',
      cols: info.cols || 80,
      rows: info.rows || 24,
    }
    accept?.()
  })
  session.on('window-change', (accept, _reject, info) => {
    if (pty) Object.assign(pty, { cols: info.cols, rows: info.rows })
    exec?.resize(info.cols, info.rows)
    shellTerm?.resize(info.cols, info.rows)
    accept?.()
  })
  session.on('env', (accept, reject, info) => {
    if (!started && envAllowed(info.key, opts.acceptEnv)) {
      env[info.key] = info.val
      return accept?.()
    }
    logger.debug(`env ${JSON.stringify(info.key)} refused`)
    reject?.()
  })
  session.on('signal', (accept, reject, info) => {
    const n = SIGNALS[info.name]
    if (!exec || n === undefined) return reject?.()
    sent.add(n)
    exec.signal(n)
    accept?.()
  })
  let agent = false
  session.on('auth-agent', (accept, reject) => {
    if (!opts.forwarding || started) return reject?.()
    agent = true
    accept?.()
  })
  // no 'sftp' listener: ssh2 then hands the sftp subsystem over as a raw channel
  session.on('subsystem', (accept, reject, info) => {
    if (info.name !== 'sftp' || started) return reject?.()
    started = true
    const channel = accept()
    coalesceWrites(channel)
    // the instance's own sftp-server as the user; Incus's SFTP endpoint for root without one
    void opts.instances
      .prepare(asLogin(id.target))
      .then(async ({ client, user }) =>
        user.uid === 0 && !(await hasSftpServer(client, id.target.instance, id.target.project))
          ? client
          : undefined,
      )
      .catch(() => undefined)
      .then((client) =>
        client
          ? serveNativeSftp(channel, client, id.target.instance, id.target.project)
          : start(channel, SFTP_SERVER_COMMAND),
      )
  })
  for (const ev of ['x11'] as const) {
    session.on(ev as 'x11', (_accept, reject) => reject?.())
  }
  session.on('shell', (accept) => {
    started = true
    void start(accept(), undefined)
  })
  session.on('exec', (accept, _reject, info) => {
    started = true
    void start(accept(), withToolCheck(info.command, id.target.instance))
  })

  async function start(channel: ServerChannel, command: string | undefined): Promise<void> {
    const nl = pty ? '\r\n' : '\n'
    coalesceWrites(channel)
    let closed = false
    channel.on('close', () => {
      closed = true
      if (exec?.running) void stop(exec)
    })
    try {
      const t = asLogin(id.target)
      if (t.command === 'shell') {
        checkIncusShell(t.hostUser, pty)
        logger.info(`%shell for host user ${t.hostUser} (${opts.connection})`)
        shellTerm = runIncusShell(channel, pty!, (code) => finish(channel, code, sent))
        return
      }
      if (t.command !== undefined)
        throw new BurrowError(
          `Failed to run %${t.command}: host commands are not supported by this version of burrow serve`,
        )
      if (t.persistent && !pty)
        throw new BurrowError('Failed to attach a persistent session: it needs a terminal (ssh -t)')
      await opts.checkHealth?.()
      const { client, user } = await prepareOrCreate(
        opts.instances,
        id.target,
        t,
        opts.createDefaults,
        (line) => pty && channel.stderr.write(`burrow: ${line}${nl}`),
        // creation takes seconds: show its progress with or without a terminal
        (line) => !closed && channel.stderr.write(`burrow: ${line}${nl}`),
      ).catch(async (err) => {
        // Incus unreachable (no HTTP status): let the health check say so in its one line
        if (err instanceof IncusError && err.code === 0) await opts.checkHealth?.(true)
        throw err
      })
      if (closed) return
      if (t.persistent)
        await ensureMux(client, t.instance, t.project, opts.mux ?? 'tmux', (line) =>
          channel.stderr.write(`burrow: ${line}${nl}`),
        )
      if (closed) return
      if (command === undefined && opts.welcome) {
        const text = template(opts.welcome, id).replace(/\r?\n$/, '')
        channel.write(`${text.replace(/\r?\n/g, nl)}${nl}`)
      }
      marker = randomBytes(12).toString('hex')
      const req = buildExec({
        user,
        mode: opts.shell,
        command,
        pty,
        persistent: t.persistent,
        mux: opts.mux,
        clientEnv: env,
        connection: opts.connection,
        marker,
      })
      if (agent && opts.forwarding)
        req.environment = { ...req.environment, SSH_AUTH_SOCK: await opts.forwarding.agent(client, t, user) }
      logger.debug(`exec in ${t.instance}: ${JSON.stringify(req.command)}`)
      // a full SSH window pauses the websocket; frames already in flight still arrive, so only
      // the first refusal arms the resume
      const out = (stream: NodeJS.WritableStream) => {
        let waiting = false
        return (d: Uint8Array) => {
          if (stream.write(d)) return true
          if (!waiting) {
            waiting = true
            stream.once('drain', () => {
              waiting = false
              exec?.resumeOutput()
            })
          }
          return false
        }
      }
      exec = await Exec.start(client, t.instance, t.project, req, {
        stdout: out(channel),
        stderr: out(channel.stderr),
      })
      if (closed) return void stop(exec)
      const e = exec
      channel.on('data', (d: Buffer) => {
        if (!e.write(d)) {
          channel.pause()
          void e.waitStdin().then(() => channel.resume())
        }
      })
      channel.on('end', () => e.end())
      const code = await e.exited
      finish(channel, code, sent)
    } catch (err) {
      const msg =
        err instanceof BurrowError
          ? err.message
          : `unexpected error: ${err instanceof Error ? err.message : String(err)}`
      if (!(err instanceof BurrowError)) logger.error(err)
      logger.info(`session for ${formatTarget(id.target)}: ${msg}`)
      if (closed) return
      channel.stderr.write(`burrow: ${msg}${nl}`)
      finish(channel, 1, sent)
    }
  }

  /** The client went away while the command ran: end what sshd's hang-up would end. */
  async function stop(e: Exec): Promise<void> {
    // a persistent session's multiplexer carries the marker too, and must outlive the connection
    if (marker && !asLogin(id.target).persistent) {
      // before closing the exec: Incus ends the command when its websockets go, and the script
      // tells the session's processes from daemons that left it by the command's own session
      try {
        await run(e.client, id.target.instance, id.target.project, killTreeCommand(marker, !!pty))
      } catch (err) {
        logger.debug(`kill session processes: ${(err as Error).message}`)
      }
    }
    e.close()
  }
}

/** `+name` / `~name` logins as a plain login as root, for when the instance already exists */
export function asLogin(t: Target): Login {
  if (t.kind === 'login') return t
  return {
    kind: 'login',
    persistent: false,
    remote: t.remote,
    instanceUser: 'root',
    instance: t.instance,
    project: t.project,
    hostUser: t.hostUser,
  }
}

function finish(channel: ServerChannel, code: number, sent: Set<number>): void {
  // stderr is a separate stream in ssh2: flush it before the channel's EOF and CLOSE
  channel.stderr.end(() => {
    const sig = code - 128
    const name = Object.keys(SIGNALS).find((k) => SIGNALS[k] === sig)
    if (name && sent.has(sig)) channel.exit(name, false, '')
    else channel.exit(code < 0 ? 255 : code)
    channel.end()
  })
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
