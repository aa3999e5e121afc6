/**
 * Opens the state store a config names: etcd when `etcd.endpoints` is set, else the embedded
 * SQLite file. An unreachable etcd falls back to the embedded file with a warning, or refuses
 * when `etcd.mandatory` is true.
 */
import { fail } from '../../core/errors'
import { logger } from '../../core/log'
import type { Config } from '../config'
import { EmbeddedState } from './embedded'
import { EtcdState } from './etcd'
import type { State } from './types'

export type { State } from './types'

export async function openState(config: Pick<Config, 'etcd' | 'state'>, opts: { fallback?: boolean } = {}): Promise<State> {
  const e = config.etcd
  if (e.endpoints.length === 0) return new EmbeddedState(config.state.path)
  const etcd = new EtcdState(
    { endpoints: e.endpoints, tls: e.tls, username: e.username || undefined, password: e.password || undefined, timeoutMs: 2000 },
    e.prefix,
  )
  try {
    await etcd.client.status()
    return etcd
  } catch (err) {
    const reason = (err as Error).message
    if (e.mandatory) {
      fail(`reach etcd at ${etcd.location}`, `${reason}; etcd.mandatory is true, so no session is routed until etcd answers`)
    }
    if (opts.fallback === false) fail(`reach etcd at ${etcd.location}`, reason)
    logger.warn(`etcd at ${etcd.location} is unreachable (${reason}); using the local state in ${config.state.path}`)
    return new EmbeddedState(config.state.path)
  }
}
