/**
 * The ssh child and its supervision: signals that would end the gateway session are passed on,
 * and when sshd goes away without a signal (the parent changes: we were reparented) the child
 * is killed, so nothing outlives the client (sshproxy's TestMainSSHDied).
 */
import { constants } from 'node:os'
import { logger } from '../core/log'

export interface Child {
  readonly pid: number
  kill(signal?: NodeJS.Signals): void
  /** exit code, or 128 + signal number as a shell reports it */
  readonly exited: Promise<number>
}

export function exitCodeOf(proc: Bun.Subprocess): number {
  if (proc.signalCode)
    return 128 + (constants.signals[proc.signalCode as keyof typeof constants.signals] ?? 0)
  return proc.exitCode ?? 255
}

export function wrap(proc: Bun.Subprocess): Child {
  return {
    pid: proc.pid,
    kill: (s) => {
      try {
        proc.kill(s)
      } catch (err) {
        logger.debug(`Failed to signal ${proc.pid}: ${(err as Error).message}`)
      }
    },
    exited: proc.exited.then(() => exitCodeOf(proc)),
  }
}

/** A child on our own stdin/stdout/stderr (or on nothing, when quiet). */
export function spawnPlain(
  argv: string[],
  env: Record<string, string | undefined>,
  opts: { quiet?: boolean } = {},
): Child {
  const io = opts.quiet ? 'ignore' : 'inherit'
  return wrap(Bun.spawn(argv, { env, stdin: io, stdout: io, stderr: io }))
}

const FORWARDED: NodeJS.Signals[] = ['SIGHUP', 'SIGTERM', 'SIGINT']

export async function superviseChild(child: Child): Promise<number> {
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig)
  const handlers = FORWARDED.map((s) => [s, forward(s)] as const)
  for (const [s, h] of handlers) process.on(s, h)
  const parent = process.ppid
  const watchdog = setInterval(() => {
    if (process.ppid !== parent) {
      logger.debug(`sshd (pid ${parent}) is gone; ending ssh (pid ${child.pid})`)
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 2000).unref()
    }
  }, 1000)
  try {
    return await child.exited
  } finally {
    clearInterval(watchdog)
    for (const [s, h] of handlers) process.off(s, h)
  }
}
