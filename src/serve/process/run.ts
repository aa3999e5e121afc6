/**
 * `burrow serve` from its command-line arguments to a running server, until SIGINT or SIGTERM.
 */
import { logger } from '../../core/log'
import type { ServeArgs } from './args'
import { serveOptions } from './options'
import { startServe } from './server'

export async function runServe(args: ServeArgs): Promise<number> {
  const { WORKER_ENV, runWorker } = await import('./worker')
  const workerArgs = process.env[WORKER_ENV]
  if (workerArgs) return runWorker(JSON.parse(workerArgs) as ServeArgs)
  const { extraOptions } = await import('./run-extra')
  const opts = { ...serveOptions(args), ...extraOptions(args, { healthcheck: !args.master }) }
  if (opts.noauth) {
    logger.warn(
      '*** --noauth: NO AUTHENTICATION. Anyone who can reach this port gets a shell in every instance. ***',
    )
    logger.warn('*** Use it only for development, on a loopback address. ***')
  }
  if (args.master) return (await import('./master')).runMaster(args, opts)
  const server = await startServe(opts)
  const { address, port } = server.address
  logger.info(
    `burrow serve listening on ${address.includes(':') ? `[${address}]` : address}:${port}`,
  )
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  logger.info(`burrow serve stopping (${signal})`)
  opts.health?.stop()
  await server.close()
  return 0
}
