/**
 * Every permission decision `burrow route` makes, in one module a reviewer can audit alone. Each
 * exported rule is one row of docs/security.md ("route: shared state and identity on a gateway");
 * the session, the state service and ctl ask these functions and never decide on their own.
 *
 * The threat: sshd runs the ForceCommand as the logged-in user, and that user's own start-up
 * files (~/.bashrc) run first, so everything in the session's environment and memory is the
 * user's to change. Only the kernel's word (uid, SO_PEERCRED) and the state service's own
 * process are trusted.
 */
import { fail } from '../core/errors'
import type { Connection, Sticky } from './state/types'

/** Who is on the other end of the state service's socket, as the kernel says (SO_PEERCRED). */
export interface Peer {
  uid: number
  pid: number
  /** the uid's passwd name (getpwuid), never $USER */
  user: string
  /** the user's groups in the group database, looked up once when needed */
  groups: () => string[]
}

/**
 * Rule "identity": a session's user is the passwd entry of its real uid, its groups are the
 * process's groups as the kernel holds them (set by sshd's initgroups). $USER, $LOGNAME and
 * $HOME are never read for identity.
 */
export function identityFrom(uid: number, nameOf: (uid: number) => string | undefined): string {
  const name = nameOf(uid)
  if (!name)
    fail(
      'find who is connecting',
      `uid ${uid} has no passwd entry (getpwuid); route needs a named user`,
    )
  return name
}

/** Variables that make the compiled Bun binary run other code than burrow's (docs/route.md). */
export const BUN_ENV = ['BUN_OPTIONS', 'BUN_BE_BUN'] as const

/**
 * Rule "environment": as sshd's ForceCommand, route refuses to start when the session carries a
 * variable that changes what the Bun runtime runs. (BUN_BE_BUN=1 never reaches this code; the
 * sshd rule in docs/route.md keeps it out, and the ForceCommand line clears both.)
 */
export function refuseRuntimeEnv(env: Record<string, string | undefined>): void {
  const set = BUN_ENV.filter((k) => env[k] !== undefined)
  if (set.length) {
    fail(
      'start route',
      `${set.join(' and ')} ${set.length > 1 ? 'are' : 'is'} set; they change what the binary runs, so sshd must not pass them (remove them from AcceptEnv, see docs/route.md)`,
    )
  }
}

/** Rule "admin": root, or a member of `state.admin_group` (group database, not the environment). */
export function isAdmin(peer: Peer, adminGroup: string): boolean {
  return peer.uid === 0 || (adminGroup !== '' && peer.groups().includes(adminGroup))
}

/** What changes shared routing state for everyone; only admins may. */
export type AdminOp =
  | 'enable'
  | 'disable'
  | 'forget host'
  | 'set the banner'
  | 'clear the banner'
  | 'forget sticky entries of'

/** Rule "ctl writes": enable, disable, forget host, banner need root or the admin group. */
export function mayChange(peer: Peer, adminGroup: string, op: AdminOp, object: string): void {
  if (isAdmin(peer, adminGroup)) return
  const who = adminGroup
    ? `root and members of group ${adminGroup}`
    : 'root (set state.admin_group to allow a group)'
  fail(`${op} ${object}`.trim(), `only ${who} may change the routing state; you are ${peer.user}`)
}

const FIELD_MAX = 256
const clip = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || v.length > FIELD_MAX || /[\0-\x1f\x7f]/.test(v))
    fail(
      'register the session',
      `${what} must be a printable string of at most ${FIELD_MAX} characters`,
    )
  return v
}

/**
 * Rule "own connection": a session registers only itself. The service takes the user from the
 * peer's uid, the gateway and start time from itself, and refuses a session id already in use
 * (so no one replaces another's row); the rest is what the session reports about its client.
 */
export function ownConnection(
  peer: Peer,
  claimed: Partial<Connection>,
  gateway: string,
  now: number,
): Connection {
  if (typeof claimed.id !== 'string' || !/^[0-9A-F]{10}$/.test(claimed.id))
    fail('register the session', 'the session id must be 10 hex digits')
  return {
    id: claimed.id,
    user: peer.user,
    service: clip(claimed.service, 'service'),
    dest: clip(claimed.dest, 'dest'),
    from: clip(claimed.from, 'from'),
    sshd: clip(claimed.sshd, 'sshd'),
    gateway,
    start: now,
    bwIn: 0,
    bwOut: 0,
  }
}

/**
 * Rule "resume": after the state service restarted, a live session registers itself again. It is
 * still its own connection (the user from the kernel), its id must not be held by a connection
 * that is live in the service now, and it keeps its claimed start, which cannot lie in the future.
 */
export function resumedConnection(
  peer: Peer,
  claimed: Partial<Connection>,
  gateway: string,
  now: number,
  heldNow: boolean,
): Connection {
  const c = ownConnection(peer, claimed, gateway, now)
  if (heldNow) fail('register the session again', `session ${c.id} is held by a live connection`)
  const start = claimed.start
  if (typeof start === 'number' && Number.isFinite(start) && start > 0 && start <= now)
    c.start = start
  return c
}

/**
 * Rule "source": where a session comes from is what the kernel says about the TCP connection of
 * the sshd it runs under (state/source.ts), not SSH_CONNECTION, which the user's own ~/.bashrc
 * can change. A client that is not under sshd keeps its word, marked as such in the store and the
 * audit log.
 */
export function sessionSource(
  claimed: { from: string; sshd: string },
  kernel: { from: string; sshd: string } | undefined,
): { from: string; sshd: string } {
  return kernel ?? { from: `${claimed.from} (claimed)`, sshd: `${claimed.sshd} (claimed)` }
}

/**
 * Rule "known names": what a user registers or remembers names a service and a destination of
 * the service's route.yaml, so no user can grow the store with names of their own making.
 */
export function knownTarget(
  service: string,
  dest: string,
  services: ReadonlySet<string>,
  dests: ReadonlySet<string>,
): void {
  if (!services.has(service))
    fail(`use service '${service}'`, 'it is not a service of the state service’s route.yaml')
  if (!dests.has(dest))
    fail(`use destination ${dest}`, 'it is not a destination of the state service’s route.yaml')
}

/**
 * Rule "reads": an admin sees every connection; a user sees their own in full and everyone
 * else's only as load on a host (user, client address and session id blanked), which is all
 * route_select: connections/bandwidth needs.
 */
export function visibleConnection(peer: Peer, admin: boolean, c: Connection): Connection {
  if (admin || c.user === peer.user) return c
  return { ...c, id: '', user: '', from: '', sshd: '', gateway: '' }
}

/** Rule "sticky": users read, set and forget only their own entries; admins any. */
export function stickyScope(
  peer: Peer,
  admin: boolean,
  filter: { user?: string },
): { user?: string } {
  if (admin) return filter
  if (filter.user !== undefined && filter.user !== peer.user) {
    fail(
      `forget sticky entries of ${filter.user}`,
      `only root and the admin group may; you are ${peer.user}`,
    )
  }
  return { user: peer.user }
}

export const visibleSticky = (peer: Peer, admin: boolean, s: Sticky) =>
  admin || s.user === peer.user

/**
 * Rule "host checks": an admin's result (`route check`) is stored as given. A session's report
 * is only a hint: the service probes the host itself (it must be a destination of the config)
 * and stores its own result, so no user can mark a host down for others, or up.
 */
export function checkReport(
  admin: boolean,
  dest: string,
  known: ReadonlySet<string>,
): 'store' | 'verify' {
  if (admin) return 'store'
  if (!known.has(dest))
    fail(`record a check of ${dest}`, 'it is not a destination of the service’s route.yaml')
  return 'verify'
}

/** Rule "audit": every line starts with what the kernel said about the writer. */
export function auditPrefix(peer: Pick<Peer, 'uid' | 'user'>): string {
  return `uid=${peer.uid} user=${peer.user}`
}

/** Rule "limits": open connections to the service, in all and per uid; sized for a busy gateway. */
export const LIMITS = {
  clients: 2048,
  clientsPerUid: 128,
  lineBytes: 64 * 1024,
  registrationsPerClient: 1,
} as const

export function mayConnect(open: number, openForUid: number, uid: number): string | undefined {
  if (open >= LIMITS.clients) return `the service has ${open} clients, its limit`
  if (uid !== 0 && openForUid >= LIMITS.clientsPerUid)
    return `uid ${uid} has ${openForUid} open connections to the service, its limit`
  return undefined
}

/** Rule "store file": the store and its directory belong to the service; no one else may read or write. */
export const STORE_MODE = 0o600
export const SOCKET_MODE = 0o666
