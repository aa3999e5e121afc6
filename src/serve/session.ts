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
import { Exec, run } from '../backends/incus'
import type { ShellMode } from './command'
import { buildExec, envAllowed, killTreeCommand } from './command'
import type { Identity } from './auth'
import type { Instances } from './instance'
import { TargetError } from './instance'
import type { Login, Target } from './login'
import { formatTarget } from './login'

export interface SessionOptions {
  instances: Instances
  shell: ShellMode
  acceptEnv: string[]
  welcome?: string
  /** "client-ip client-port server-ip server-port" */
  connection: string
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
  for (const ev of ['subsystem', 'sftp', 'x11', 'auth-agent'] as const) {
    session.on(ev as 'x11', (_accept, reject) => reject?.())
  }
  session.on('shell', (accept) => {
    started = true
    void start(accept(), undefined)
  })
  session.on('exec', (accept, _reject, info) => {
    started = true
    void start(accept(), info.command)
  })

  async function start(channel: ServerChannel, command: string | undefined): Promise<void> {
    const nl = pty ? '\r\n' : '\n'
    let closed = false
    channel.on('close', () => {
      closed = true
      if (exec?.running) void stop(exec)
    })
    try {
      const t = asLogin(id.target)
      if (t.command !== undefined)
        throw new BurrowError(
          `Failed to run %${t.command}: host commands are not supported by this version of burrow serve`,
        )
      if (t.persistent && !pty)
        throw new BurrowError('Failed to attach a persistent session: it needs a terminal (ssh -t)')
      const { client, user } = await opts.instances
        .prepare(t, (line) => pty && channel.stderr.write(`burrow: ${line}${nl}`))
        .catch((err) => {
          // the creation form reaches an existing instance; creating one is not in this version
          if (
            id.target.kind === 'create' &&
            err instanceof TargetError &&
            /no such instance/.test(err.message)
          ) {
            throw new BurrowError(
              `Failed to create instance ${t.instance}: creating instances is not supported by this version of burrow serve`,
            )
          }
          throw err
        })
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
        clientEnv: env,
        connection: opts.connection,
        marker,
      })
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

  /** The client went away while the command ran: kill it and everything it started. */
  async function stop(e: Exec): Promise<void> {
    e.close()
    if (!marker) return
    try {
      await run(e.client, id.target.instance, id.target.project, killTreeCommand(marker))
    } catch (err) {
      logger.debug(`kill session processes: ${(err as Error).message}`)
    }
  }
}

/** `+name` / `~name` logins as a plain login as root, for when the instance already exists */
function asLogin(t: Target): Login {
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
