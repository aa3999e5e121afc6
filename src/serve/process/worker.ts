/**
 * A `--master` worker: one process per SSH connection. The master hands the accepted TCP socket
 * over as fd 3 and the serve arguments in $BURROW_SERVE_WORKER; the worker serves that one
 * connection and exits when it is over. It ignores SIGTERM and SIGINT so that stopping or
 * restarting the master (systemd KillMode=process) leaves every live session alone.
 */
import type net from 'node:net'
import { Duplex } from 'node:stream'
import { fail } from '../../core/errors'
import { logger } from '../../core/log'
import type { ServeArgs } from './args'
import type { ConnectionReport } from './server'

export const WORKER_ENV = 'BURROW_SERVE_WORKER'
export const WORKER_FD = 3

type BunSocket = {
  write(data: Uint8Array): number
  end(): void
  shutdown?(): void
  pause(): void
  resume(): void
  terminate(): void
  remoteAddress: string
  remotePort?: number
  localAddress?: string
  localPort?: number
}

/**
 * The connection on `fd` as the node-style Duplex ssh2 needs. `new net.Socket({ fd })` is broken
 * in Bun 1.4 (it closes on the first write); `Bun.connect({ fd })` works, so this adapts it:
 * partial writes wait for `drain`, a full readable buffer pauses the socket.
 */
export async function adoptSocket(fd: number): Promise<net.Socket> {
  let sock: BunSocket | undefined
  let pending: { rest: Uint8Array; cb: (err?: Error | null) => void } | undefined
  const flush = () => {
    if (!pending || !sock) return
    const n = sock.write(pending.rest)
    if (n < pending.rest.length) return void (pending.rest = pending.rest.subarray(Math.max(n, 0)))
    const { cb } = pending
    pending = undefined
    cb()
  }
  const stream = new Duplex({
    allowHalfOpen: false,
    read: () => sock?.resume(),
    write(chunk: Uint8Array, _enc, cb) {
      pending = { rest: chunk, cb }
      flush()
    },
    final(cb) {
      sock?.shutdown ? sock.shutdown() : sock?.end()
      cb()
    },
    destroy(err, cb) {
      sock?.end()
      cb(err)
    },
  })
  const connect = Bun.connect as unknown as (o: unknown) => Promise<BunSocket>
  try {
    sock = await connect({
      fd,
      socket: {
        data: (s: BunSocket, d: Uint8Array) => {
          if (!stream.push(d)) s.pause()
        },
        drain: () => flush(),
        end: () => stream.push(null),
        close: () => stream.destroy(),
        error: (_s: BunSocket, err: Error) => stream.destroy(err),
      },
    })
  } catch (err) {
    return fail(`adopt the connection on fd ${fd}`, (err as Error).message)
  }
  // what ssh2 and the session environment read from a net.Socket
  return Object.assign(stream, {
    remoteAddress: sock.remoteAddress,
    remotePort: sock.remotePort,
    localAddress: sock.localAddress,
    localPort: sock.localPort,
    setNoDelay: () => stream,
  }) as unknown as net.Socket
}

/** Serves the one connection on fd 3 and returns once it has closed. */
export async function runWorker(args: ServeArgs): Promise<number> {
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => {})
  const { serveOptions } = await import('./options')
  const { startServe } = await import('./server')
  const opts = serveOptions(args)
  const server = await startServe({ ...opts, listen: '', ...(await workerExtras(args)) })
  const sock = await adoptSocket(WORKER_FD)
  logger.debug(`worker ${process.pid}: connection from ${sock.remoteAddress}:${sock.remotePort}`)
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()))
  server.inject(sock, (r) => tellMaster(r))
  await closed
  // session cleanup (killing a dropped command's processes) runs after the close; give it time
  await Bun.sleep(1500)
  await server.close()
  return 0
}

/**
 * Reports to the master over the IPC channel it opened (master.ts enforces the limits). A master
 * that was restarted is gone: the report is dropped and the session goes on.
 */
function tellMaster(r: ConnectionReport): void {
  try {
    process.send?.(r)
  } catch (err) {
    logger.debug(`report to the master: ${(err as Error).message}`)
  }
}

/** The options that run.ts derives beyond serveOptions (creation, mux, remote, health). */
async function workerExtras(args: ServeArgs) {
  const { extraOptions } = await import('./run-extra')
  return extraOptions(args, { healthcheck: false })
}
