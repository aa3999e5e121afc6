/**
 * The running part of a session channel: the Incus exec with flow control both ways, the kill of
 * its process tree when the client goes away, and the exit status (or signal) sent back.
 */
import type { ServerChannel } from 'ssh2'
import { logger } from '../../core/log'
import type { ExecRequest, IncusClient } from '../../incus'
import { Exec, run } from '../../incus'
import type { Identity } from '../auth/auth'
import { killTreeCommand } from './command'
import type { ShellTerminal } from './incus-shell'
import type { Login } from '../auth/login'
import { asLogin } from '../auth/login'
import type { SessionOptions } from './options'

// RFC 4254 §6.10 names → Linux signal numbers (the same on x86 and arm)
export const SIGNALS: Record<string, number> = {
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

/** The state of one session channel, shared by its request handlers and its run. */
export interface SessionState {
  id: Identity
  opts: SessionOptions
  pty?: { term: string; cols: number; rows: number }
  env: Record<string, string>
  exec?: Exec
  marker: string
  started: boolean
  agent: boolean
  shellTerm?: ShellTerminal
  /** signals forwarded to the process: an exit status of 128+N after one of them was that signal */
  sent: Set<number>
}

/** The exec with flow control both ways, until it exits. */
export async function runExec(
  st: SessionState,
  channel: ServerChannel,
  client: IncusClient,
  t: Login,
  req: ExecRequest,
  closed: () => boolean,
): Promise<void> {
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
          st.exec?.resumeOutput()
        })
      }
      return false
    }
  }
  const e = await Exec.start(client, t.instance, t.project, req, {
    stdout: out(channel),
    stderr: out(channel.stderr),
  })
  st.exec = e
  if (closed()) return void stop(st, e)
  channel.on('data', (d: Buffer) => {
    if (!e.write(d)) {
      channel.pause()
      void e.waitStdin().then(() => channel.resume())
    }
  })
  channel.on('end', () => e.end())
  finish(channel, await e.exited, st.sent)
}

/** The client went away while the command ran: kill it and everything it started. */
/** The client went away while the command ran: end what sshd's hang-up would end. */
export async function stop(st: SessionState, e: Exec): Promise<void> {
  const t = st.id.target
  // a persistent session's multiplexer carries the marker too, and must outlive the connection
  if (st.marker && !asLogin(t).persistent) {
    // before closing the exec: Incus ends the command when its websockets go, and the script
    // tells the session's processes from daemons that left it by the command's own session
    try {
      await run(e.client, t.instance, t.project, killTreeCommand(st.marker, !!st.pty))
    } catch (err) {
      logger.debug(`kill session processes: ${(err as Error).message}`)
    }
  }
  e.close()
}

export function finish(channel: ServerChannel, code: number, sent: Set<number>): void {
  // stderr is a separate stream in ssh2: flush it before the channel's EOF and CLOSE
  channel.stderr.end(() => {
    const sig = code - 128
    const name = Object.keys(SIGNALS).find((k) => SIGNALS[k] === sig)
    if (name && sent.has(sig)) channel.exit(name, false, '')
    else channel.exit(code < 0 ? 255 : code)
    channel.end()
  })
}
