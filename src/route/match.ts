/**
 * Override conditions: `users`, `groups`, `sources` (the gateway sshd's own ip:port from
 * SSH_CONNECTION). Keys inside one condition are ANDed; a `match` list is ORed by the caller.
 */
import { expandNodeset } from './dest'

/** One override condition as route.yaml writes it. */
export interface Condition {
  users?: string[]
  groups?: string[]
  sources?: string[]
}

/** Who is logging in: the user (from the uid), their groups, and where the connection came from. */
export interface Identity {
  user: string
  groups: () => string[]
  source: { ip: string; port: number }
}

/** `IP:PORT`, `IP`, `:PORT` or `[v6]:PORT`, nodesets allowed in both parts; no name lookup. */
function matchSource(patterns: string[], source: Identity['source']): boolean {
  return patterns.some((p) => {
    const m = /^(?:\[([^\]]+)\]|([^:]*))(?::(.+))?$/.exec(p)
    if (!m) return false
    const host = m[1] ?? m[2] ?? ''
    const hosts = host === '' || host === '*' ? [] : expandNodeset(host)
    const ports = m[3] === undefined ? [] : expandNodeset(m[3]).map(Number)
    return (
      (hosts.length === 0 || hosts.includes(source.ip)) &&
      (ports.length === 0 || ports.includes(source.port))
    )
  })
}

/** All keys in one condition must hold (AND); any condition in `match` may (OR). */
export function matches(cond: Condition, who: Identity): boolean {
  if (cond.users && !cond.users.flatMap((u) => expandNodeset(u)).includes(who.user)) return false
  if (cond.groups && !cond.groups.some((g) => who.groups().includes(g))) return false
  if (cond.sources && !matchSource(cond.sources, who.source)) return false
  return true
}
