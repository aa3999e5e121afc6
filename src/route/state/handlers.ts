/**
 * What the state service does for one request of one client. Every permission question goes to
 * ../policy.ts; this module only carries the answer out against the store.
 */
import { hostname } from 'node:os'
import { BurrowError, fail } from '../../core/errors'
import { logger } from '../../core/log'
import { appendAudit, auditText, expandUser } from '../audit'
import type { Dest } from '../dest'
import { probe } from '../health'
import {
  auditPrefix,
  checkReport,
  isAdmin,
  knownTarget,
  mayChange,
  ownConnection,
  type Peer,
  resumedConnection,
  sessionSource,
  stickyScope,
  visibleConnection,
  visibleSticky,
} from '../policy'
import { kernelSource } from './source'
import type { Op } from './protocol'
import type { AuditEvent, Check, Connection, Registration, State } from './types'

/** What the service knows from its own route.yaml. */
export interface ServiceContext {
  adminGroup: string
  /** every destination of the config, by id (session check reports are verified against it) */
  dests: Map<string, Dest>
  /** every service name the config gives */
  services: Set<string>
  checkTimeout: number
  /** etcd.keyttl: a registration's lease; the embedded store's rows live as long as the socket */
  keyttl: number
  /** audit log path (`{user}` allowed), '' = none */
  log: string
  /** picks the store for a client (etcd, or the embedded fallback) */
  pick(fallback: boolean): Promise<{ state: State; warning?: string }>
  /** ids of the sessions registered by connections live in this service now */
  held: Set<string>
}

/** One connected client: who it is (kernel), its store, its one registration. */
export interface Client {
  peer: Peer
  admin?: boolean
  state?: State
  reg?: { conn: Connection; registration: Registration }
  /** a session reports at most one `nodest` event per connection */
  audited?: boolean
}

const gateway = hostname()
const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || v.length > 1024)
    fail('understand the request', `${what} must be a string`)
  return v
}
const optStr = (v: unknown, what: string) =>
  v === undefined || v === null ? undefined : str(v, what)
const num = (v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max)
    fail('understand the request', `${what} must be a number from 0 to ${max}`)
  return v
}

/** Host probes asked for by sessions, one at a time per host. */
const probing = new Map<string, Promise<void>>()

function verifyCheck(ctx: ServiceContext, state: State, id: string): void {
  const dest = ctx.dests.get(id)
  if (!dest || probing.has(id)) return
  const run = probe(dest, ctx.checkTimeout)
    .then((p) => state.recordCheck(id, p.up ? 'up' : 'down', Date.now()))
    .catch((err) => logger.warn(`Failed to record the check of ${id}: ${(err as Error).message}`))
    .finally(() => probing.delete(id))
  probing.set(id, run)
}

export function writeAudit(ctx: ServiceContext, peer: Peer, e: AuditEvent): void {
  if (ctx.log)
    appendAudit(
      expandUser(ctx.log, peer.user),
      `${auditPrefix(peer)} ${auditText(peer.user, e)}`,
      0o640,
    )
}

function auditEvent(c: Client, a: Record<string, unknown>): AuditEvent {
  const kind = a.kind
  if (kind !== 'nodest')
    fail(
      'write the audit log',
      'a session may only report that no destination was up; start and end are written by the service',
    )
  const where = sessionSource(
    { from: str(a.from, 'from'), sshd: str(a.sshd, 'sshd') },
    kernelSource(c.peer.pid),
  )
  return { kind, sid: str(a.sid, 'sid').slice(0, 16), service: str(a.service, 'service'), ...where }
}

export async function handle(
  ctx: ServiceContext,
  c: Client,
  op: Op,
  a: Record<string, unknown>,
): Promise<unknown> {
  if (op === 'hello') {
    const { state, warning } = await ctx.pick(a.fallback !== false)
    c.state = state
    return { user: c.peer.user, store: state.name, location: state.location, warning }
  }
  const state = c.state
  if (!state) fail('use the state service', 'say hello first')
  const peer = c.peer
  // the group lookup costs a process; most sessions never need it
  const admin = () => (c.admin ??= isAdmin(peer, ctx.adminGroup))
  switch (op) {
    case 'register': {
      if (c.reg) fail('register the session', 'this connection already registered one')
      const claimed = (a.c ?? {}) as Partial<Connection>
      // `again`: a live session whose service restarted (its old row died with the old service)
      const again = a.again === true
      const conn = again
        ? resumedConnection(peer, claimed, gateway, Date.now(), ctx.held.has(String(claimed.id)))
        : ownConnection(peer, claimed, gateway, Date.now())
      Object.assign(conn, sessionSource(conn, kernelSource(peer.pid)))
      knownTarget(conn.service, conn.dest, ctx.services, new Set(ctx.dests.keys()))
      if (!again && (await state.connections({ user: peer.user })).some((x) => x.id === conn.id))
        fail('register the session', `session ${conn.id} is already registered`)
      // embedded rows live while this socket does (and die with the service's pid); etcd keys
      // carry a lease so they also go when this service dies
      const registration = await state.register(
        conn,
        state.name === 'etcd' ? ctx.keyttl : 86_400_000,
      )
      c.reg = { conn, registration }
      ctx.held.add(conn.id)
      // the audit log has its start line from the service that saw it start
      if (again) logger.info(`session ${conn.id} of ${peer.user} registered again`)
      else
        writeAudit(ctx, peer, {
          kind: 'start',
          sid: conn.id,
          service: conn.service,
          from: conn.from,
          sshd: conn.sshd,
          dest: conn.dest,
          command: optStr(a.command, 'command'),
        })
      return null
    }
    case 'bandwidth':
      c.reg?.registration.setBandwidth(num(a.in, 'in'), num(a.out, 'out'))
      return null
    case 'unregister': {
      await endRegistration(ctx, c, a.exit === undefined ? undefined : num(a.exit, 'exit', 255))
      return null
    }
    case 'audit': {
      const e = auditEvent(c, a)
      if (c.audited) fail('write the audit log', 'one event per connection')
      c.audited = true
      if (!ctx.services.has(e.service))
        fail(`use service '${e.service}'`, 'it is not a service of the state service’s route.yaml')
      writeAudit(ctx, peer, e)
      return null
    }
    case 'connections': {
      const filter = { user: optStr(a.user, 'user'), service: optStr(a.service, 'service') }
      return (await state.connections(filter)).map((x) =>
        visibleConnection(peer, x.user !== peer.user && admin(), x),
      )
    }
    case 'hosts':
      return state.hosts()
    case 'host':
      return (await state.host(str(a.id, 'id'))) ?? null
    case 'recordCheck': {
      const id = str(a.id, 'id')
      if (checkReport(admin(), id, new Set(ctx.dests.keys())) === 'verify')
        return void verifyCheck(ctx, state, id)
      const result =
        a.state === 'up' || a.state === 'down' || a.state === 'unknown'
          ? (a.state as Check)
          : fail('record a check', 'state must be up, down or unknown')
      return state.recordCheck(id, result, num(a.ts, 'ts'))
    }
    case 'setDisabled': {
      const id = str(a.id, 'id')
      mayChange(peer, ctx.adminGroup, a.disabled ? 'disable' : 'enable', id)
      return state.setDisabled(id, a.disabled === true)
    }
    case 'forgetHost': {
      const id = str(a.id, 'id')
      mayChange(peer, ctx.adminGroup, 'forget host', id)
      return state.forgetHost(id)
    }
    case 'remember': {
      const [service, dest] = [str(a.service, 'service'), str(a.dest, 'dest')]
      knownTarget(service, dest, ctx.services, new Set(ctx.dests.keys()))
      return state.remember(peer.user, service, dest, num(a.ttl, 'ttl', 366 * 86_400_000))
    }
    case 'recall':
      return (await state.recall(peer.user, str(a.service, 'service'))) ?? null
    case 'sticky':
      return (await state.sticky()).filter((s) =>
        visibleSticky(peer, s.user !== peer.user && admin(), s),
      )
    case 'forgetSticky': {
      const user = optStr(a.user, 'user')
      const scope = stickyScope(peer, user !== peer.user && admin(), { user })
      return state.forgetSticky({
        user: scope.user,
        service: optStr(a.service, 'service'),
        dest: optStr(a.dest, 'dest'),
      })
    }
    case 'banner':
      return (await state.banner()) ?? null
    case 'setBanner':
      mayChange(peer, ctx.adminGroup, 'set the banner', '')
      return state.setBanner(
        str(a.text, 'text'),
        a.expire === undefined || a.expire === null ? undefined : num(a.expire, 'expire'),
      )
    case 'clearBanner':
      mayChange(peer, ctx.adminGroup, 'clear the banner', '')
      return state.clearBanner()
  }
}

/** Unregisters the client's session (on request, or when its socket closed: a killed session). */
export async function endRegistration(
  ctx: ServiceContext,
  c: Client,
  exit?: number,
): Promise<void> {
  const reg = c.reg
  if (!reg) return
  c.reg = undefined
  ctx.held.delete(reg.conn.id)
  try {
    await reg.registration.close()
  } catch (err) {
    logger.warn(`Failed to unregister session ${reg.conn.id}: ${(err as Error).message}`)
  }
  const seconds = (Date.now() - reg.conn.start) / 1000
  const e = reg.conn
  writeAudit(ctx, c.peer, {
    kind: 'end',
    sid: e.id,
    service: e.service,
    from: e.from,
    sshd: e.sshd,
    dest: e.dest,
    exit,
    seconds,
  })
}

/** The reply's error text: BurrowErrors as they are, anything else as a failure of `op`. */
export function errorText(op: Op, err: unknown): string {
  if (err instanceof BurrowError) return err.message
  return `Failed to ${op} in the state service: ${err instanceof Error ? err.message : String(err)}`
}
