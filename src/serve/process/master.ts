/**
 * `--master`: the listening process only accepts and hands each connection (its fd, as fd 3) to a
 * worker process of its own (worker.ts); it never speaks SSH. Stopping the master closes the
 * listener and nothing else, so live sessions go on in their workers and a new master can bind
 * the same port at once (the listener has SO_REUSEADDR and close-on-exec, so no worker holds it).
 * The limits that span connections hold here as in one process: the master refuses a penalised
 * source and applies MaxStartups before it starts a worker, and each worker reports over IPC when
 * its client authenticated and whether it failed; a worker still unauthenticated after the grace
 * time is killed by the master, whatever it is doing.
 */
import net from 'node:net'
import { logger } from '../../core/log'
import { selfArgv } from '../../core/self'
import { cleanStale } from '../../incus/proxy-device'
import { loadHostKeys } from '../transport/host-keys'
import { Instances } from '../session/instance'
import { ConnectionLimits } from './limits'
import type { ServeArgs } from './args'
import type { ConnectionReport, ServeOptions } from './server'
import { listenTcp } from './listen'
import { WORKER_ENV, WORKER_FD } from './worker'

/** the worker's own timer fires first; the master's is the backstop for a stuck worker */
const GRACE_SLACK_MS = 2000

export async function runMaster(args: ServeArgs, opts: ServeOptions): Promise<number> {
  // generate the state-dir host key (if one is needed) once, before workers race to do it
  loadHostKeys(opts.hostKeys)
  // devices of workers that were killed (kill -9, a crash) before they could remove them
  await cleanStale(new Instances(opts.endpoint, opts.defaultRemote).client('local'))
  const workers = new Set<number>()
  const limits = new ConnectionLimits(opts.maxStartups, opts.penalty)
  const env: Record<string, string | undefined> = {
    ...process.env,
    [WORKER_ENV]: JSON.stringify({ ...args, master: false }),
  }
  if ((args as { debug?: boolean }).debug) env.BURROW_DEBUG = '1'
  const tcp = net.createServer({ pauseOnConnect: true }, (sock) => {
    const ip = sock.remoteAddress ?? '?'
    const refused = limits.admit(ip)
    if (refused) {
      logger.info(refused)
      return sock.destroy()
    }
    const port = sock.remotePort
    const proc = startWorker(sock, env, limits.reporter(ip), opts.loginGraceMs)
    if (!proc) return
    workers.add(proc.pid)
    void proc.exited.then(() => workers.delete(proc.pid))
    logger.debug(`worker ${proc.pid} for ${ip} port ${port}`)
  })
  await listenTcp(tcp, opts.listen)
  const address = tcp.address() as net.AddressInfo
  logger.info(
    `burrow serve (master) listening on ${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`,
  )
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  logger.info(`burrow serve (master) stopping (${signal}); ${workers.size} sessions keep running`)
  await new Promise<void>((resolve) => tcp.close(() => resolve()))
  return 0
}

/**
 * A worker for the accepted `sock`; its reports go to `report`. Returns it, or undefined when it
 * could not be started (the connection is then closed).
 */
function startWorker(
  sock: net.Socket,
  env: Record<string, string | undefined>,
  report: (r: ConnectionReport) => void,
  graceMs: number,
): { pid: number; exited: Promise<number> } | undefined {
  const ip = sock.remoteAddress ?? '?'
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) {
    logger.error(`Failed to hand over the connection from ${ip}: no file descriptor`)
    report({ closed: { failed: false } })
    sock.destroy()
    return undefined
  }
  const stdio: (number | 'ignore' | 'inherit')[] = ['ignore', 'ignore', 'inherit']
  stdio[WORKER_FD] = fd
  let authenticated = false
  let closed = false
  let grace: ReturnType<typeof setTimeout> | undefined
  let proc: ReturnType<typeof Bun.spawn>
  try {
    proc = Bun.spawn([...selfArgv(), 'serve'], {
      env,
      stdio: stdio as never,
      // its own process group: a Ctrl+C or group signal aimed at the master spares sessions
      detached: true,
      serialization: 'json',
      ipc(message: ConnectionReport) {
        if (message.authenticated) {
          authenticated = true
          clearTimeout(grace)
        }
        if (message.closed) closed = true
        report(message)
      },
    })
  } catch (err) {
    logger.error(`Failed to start a worker for ${ip}: ${(err as Error).message}`)
    report({ closed: { failed: false } })
    return undefined
  } finally {
    // the worker has its own copy; closing ours neither sends FIN nor shuts the socket down
    sock.destroy()
  }
  const pid = proc.pid
  if (graceMs)
    grace = setTimeout(() => {
      logger.info(`Timeout before authentication for ${ip}: stopping worker ${pid}`)
      proc.kill('SIGKILL')
    }, graceMs + GRACE_SLACK_MS)
  void proc.exited.then((code) => {
    clearTimeout(grace)
    // a worker that died before it reported counts as a failure unless it had authenticated
    if (!closed) report({ closed: { failed: !authenticated } })
    logger.debug(`worker ${pid} exited (${code})`)
  })
  proc.unref()
  return proc
}
