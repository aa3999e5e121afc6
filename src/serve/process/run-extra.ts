/**
 * The serve options added with creation, persistent sessions, remotes and health checks, derived
 * from the command line apart from serveOptions() so that the worker (worker.ts) and the daemon
 * build them the same way.
 */
import { fail } from '../../core/errors'
import { IncusClient, remoteEndpoint } from '../../incus'
import { loadCreateConfig } from '../session/create-config'
import { HealthCheck } from './healthcheck'
import { parseDuration } from './limits'
import type { TermMux } from '../session/persistent'
import { TERM_MUXES } from '../session/persistent'
import type { ServeArgs } from './args'
import type { ServeOptions } from './server'

export type ExtraOptions = Pick<
  ServeOptions,
  'defaultRemote' | 'createDefaults' | 'mux' | 'checkHealth'
> & { health?: HealthCheck }

/** `periodic`: a daemon checks on a timer; a worker lives for one login and checks once then. */
export function extraOptions(
  a: ServeArgs,
  { healthcheck }: { healthcheck: boolean },
): ExtraOptions {
  const mux = (a['term-mux'] ?? 'tmux') as TermMux
  if (!TERM_MUXES.includes(mux))
    fail(`use --term-mux '${a['term-mux']}'`, `expected one of ${TERM_MUXES.join(', ')}`)
  const out: ExtraOptions = { mux, defaultRemote: a.remote ?? '' }
  if (a['allow-create']) out.createDefaults = loadCreateConfig(a['create-config']).defaults
  else if (a['create-config']) fail('use --create-config', 'it needs --allow-create')
  if (a.healthcheck) {
    const ms = parseDuration(a.healthcheck, '--healthcheck')
    if (ms <= 0) fail(`use --healthcheck '${a.healthcheck}'`, 'expected a duration such as 5m')
    const endpoint = {
      socket: a.socket,
      url: a.url,
      clientCert: a['client-cert'],
      clientKey: a['client-key'],
      serverCert: a['server-cert'],
    }
    const health = new HealthCheck(
      new IncusClient(remoteEndpoint(out.defaultRemote!, endpoint)),
      ms,
    )
    if (healthcheck) {
      out.health = health.start()
      out.checkHealth = (recheck) => health.gate(recheck)
    } else {
      out.checkHealth = async () => {
        await health.check()
        await health.gate()
      }
    }
  }
  return out
}
