/**
 * `--master`: the listening process only accepts and hands each connection (its fd, as fd 3) to a
 * worker process of its own (worker.ts); it never speaks SSH. Stopping the master closes the
 * listener and nothing else, so live sessions go on in their workers and a new master can bind
 * the same port at once (the listener has SO_REUSEADDR and close-on-exec, so no worker holds it).
 * Limits that need a view across connections (--max-startups, --max-auth-failures) are not
 * enforced in this mode; the grace time and --max-auth-tries are, per worker.
 */
import net from 'node:net'
import { logger } from '../core/log'
import { selfArgv } from '../core/self'
import { loadHostKeys } from './host-keys'
import type { ServeArgs } from './run'
import type { ServeOptions } from './server'
import { listenTcp } from './server'
import { WORKER_ENV, WORKER_FD } from './worker'


export async function runMaster(args: ServeArgs, opts: ServeOptions): Promise<number> {
  // generate the state-dir host key (if one is needed) once, before workers race to do it
  loadHostKeys(opts.hostKeys)
  const workers = new Set<number>()
  const env: Record<string, string | undefined> = {
    ...process.env,
    [WORKER_ENV]: JSON.stringify({ ...args, master: false }),
  }
  if ((args as { debug?: boolean }).debug) env.BURROW_DEBUG = '1'
  const tcp = net.createServer({ pauseOnConnect: true }, (sock) => {
    const ip = sock.remoteAddress ?? '?'
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd
    if (typeof fd !== 'number' || fd < 0) {
      logger.error(`Failed to hand over the connection from ${ip}: no file descriptor`)
      return sock.destroy()
    }
    const stdio: (number | 'ignore' | 'inherit')[] = ['ignore', 'ignore', 'inherit']
    stdio[WORKER_FD] = fd
    let proc
    try {
      proc = Bun.spawn([...selfArgv(), 'serve'], {
        env,
        stdio: stdio as never,
        // its own process group: a Ctrl+C or group signal aimed at the master spares sessions
        detached: true,
      })
    } catch (err) {
      logger.error(`Failed to start a worker for ${ip}: ${(err as Error).message}`)
      return sock.destroy()
    } finally {
      // the worker has its own copy; closing ours neither sends FIN nor shuts the socket down
      sock.destroy()
    }
    const pid = proc.pid
    workers.add(pid)
    logger.debug(`worker ${pid} for ${ip} port ${sock.remotePort}`)
    void proc.exited.then((code) => {
      workers.delete(pid)
      logger.debug(`worker ${pid} exited (${code})`)
    })
    proc.unref()
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
