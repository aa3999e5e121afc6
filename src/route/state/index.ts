/**
 * Opens the state a config names (state.access): through the state service (default), the
 * store itself (direct: single-user gateways), or none.
 */
import { logger } from '../../core/log'
import type { Config } from '../config'
import { NoState } from './none'
import { RemoteState } from './remote'
import { openStores } from './stores'
import type { State } from './types'

export type { State } from './types'

export async function openState(
  config: Pick<Config, 'etcd' | 'state'>,
  opts: { fallback?: boolean } = {},
): Promise<State> {
  if (config.state.access === 'none') return new NoState()
  if (config.state.access === 'service') return RemoteState.connect(config.state.socket, opts)
  const { state, warning } = await openStores(config).pick(opts.fallback !== false)
  if (warning) logger.warn(warning)
  return state
}
