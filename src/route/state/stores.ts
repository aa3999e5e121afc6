/**
 * The stores behind the state service (or behind a session with state.access: direct): etcd when
 * `etcd.endpoints` is set, else the embedded SQLite file; an unreachable etcd falls back to the
 * embedded file with a warning, or refuses when `etcd.mandatory` is true.
 */
import { readFileSync } from 'node:fs'
import { fail } from '../../core/errors'
import type { Config } from '../config'
import { EmbeddedState } from './embedded'
import { EtcdState } from './etcd'
import type { State } from './types'

export interface Stores {
  /** the store for one client; `fallback: false` refuses instead of falling back (ctl) */
  pick(fallback: boolean): Promise<{ state: State; warning?: string }>
  close(): void
}

function passwordOf(e: Config['etcd']): string | undefined {
  if (e.password || !e.password_file) return e.password || undefined
  try {
    return readFileSync(e.password_file, 'utf8').trim()
  } catch (err) {
    fail(
      `read the etcd password from ${e.password_file}`,
      `${(err as Error).message} (only the state service needs it: state.access service)`,
    )
  }
}

/** How long one etcd status answer is trusted, so a burst of logins costs one round trip. */
const ETCD_STATUS_MS = 1000

export function openStores(
  config: Pick<Config, 'etcd' | 'state'>,
  opts: { cacheStatus?: boolean } = {},
): Stores {
  const e = config.etcd
  let embedded: EmbeddedState | undefined
  const local = () => (embedded ??= new EmbeddedState(config.state.path))
  if (e.endpoints.length === 0) {
    return { pick: async () => ({ state: local() }), close: () => embedded?.close() }
  }
  const etcd = new EtcdState(
    {
      endpoints: e.endpoints,
      tls: e.tls,
      username: e.username || undefined,
      password: passwordOf(e),
      timeoutMs: 2000,
    },
    e.prefix,
  )
  let status: { at: number; error?: string } | undefined
  const reachable = async (): Promise<string | undefined> => {
    if (opts.cacheStatus && status && Date.now() - status.at < ETCD_STATUS_MS) return status.error
    let error: string | undefined
    try {
      await etcd.client.status()
    } catch (err) {
      error = (err as Error).message
    }
    status = { at: Date.now(), error }
    return error
  }
  return {
    async pick(fallback) {
      const reason = await reachable()
      if (reason === undefined) return { state: etcd }
      if (e.mandatory) {
        fail(
          `reach etcd at ${etcd.location}`,
          `${reason}; etcd.mandatory is true, so no session is routed until etcd answers`,
        )
      }
      if (!fallback) fail(`reach etcd at ${etcd.location}`, reason)
      return {
        state: local(),
        warning: `etcd at ${etcd.location} is unreachable (${reason}); using the local state in ${config.state.path}`,
      }
    },
    close: () => {
      etcd.close()
      embedded?.close()
    },
  }
}
