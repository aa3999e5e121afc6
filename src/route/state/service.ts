/**
 * `burrow route state-service`: the one process that owns the routing state (the embedded SQLite
 * file, or the etcd credentials). Sessions and ctl reach it over a unix socket; the kernel tells
 * it who each client is (SO_PEERCRED), and ../policy.ts decides what that client may do. A
 * session's registration lives exactly as long as its socket, so a session killed with SIGKILL
 * stops counting the moment the kernel closes its end.
 */
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Socket } from 'bun'
import { fail } from '../../core/errors'
import { peerCred, userNameOf } from '../../core/ffi/libc'
import { logger } from '../../core/log'
import { allDests, defaults, loadConfig, merge } from '../config'
import { groupsOf } from '../identity'
import { mayConnect, type Peer, SOCKET_MODE } from '../policy'
import { type Client, endRegistration, errorText, handle, type ServiceContext } from './handlers'
import { LineSplitter, LineWriter, parseRequest } from './protocol'
import { openStores } from './stores'

interface Conn {
  client?: Client
  lines: LineSplitter
  writer: LineWriter
  /** requests of this client run one after another, in order */
  queue: Promise<void>
}

/** A socket file where nothing answers (a crashed service's) may go; a live one must not. */
async function claimSocketPath(path: string): Promise<void> {
  if (!existsSync(path)) return
  const answered = await Bun.connect({ unix: path, socket: { data() {} } }).then(
    (s) => {
      s.end()
      return true
    },
    () => false,
  )
  if (answered) fail(`listen on ${path}`, 'another state service is running there')
  rmSync(path, { force: true })
}

/** Group lists by user, looked up at most every GROUPS_MS (each lookup runs `id`). */
const groupCache = new Map<string, { at: number; groups: string[] }>()
const GROUPS_MS = 10_000

function peerOf(fd: number): Peer {
  const cred = peerCred(fd)
  const user = userNameOf(cred.uid) ?? `uid${cred.uid}`
  const groups = () => {
    const hit = groupCache.get(user)
    if (hit && Date.now() - hit.at < GROUPS_MS) return hit.groups
    const fresh = { at: Date.now(), groups: groupsOf(user) }
    groupCache.set(user, fresh)
    return fresh.groups
  }
  return { uid: cred.uid, pid: cred.pid, user, groups }
}

export interface ServiceOptions {
  configPath: string
  /** overrides state.socket */
  socket?: string
}

export async function runStateService(opts: ServiceOptions): Promise<number> {
  const loaded = loadConfig(opts.configPath)
  const top = merge(defaults(), loaded.top)
  const socketPath = opts.socket ?? top.state.socket
  const stores = openStores(top, { cacheStatus: true })
  // opens (and if need be recovers) the embedded store now, so damage is reported at start
  if (top.etcd.endpoints.length === 0) await stores.pick(true)
  const ctx: ServiceContext = {
    adminGroup: top.state.admin_group,
    dests: new Map(allDests(loaded).map((d) => [d.id, d])),
    services: new Set([
      top.service,
      ...loaded.overrides.flatMap((o) =>
        typeof o.set.service === 'string' ? [o.set.service] : [],
      ),
    ]),
    checkTimeout: top.check_timeout,
    keyttl: top.etcd.keyttl,
    log: top.log,
    pick: (fallback) => stores.pick(fallback),
    held: new Set(),
  }
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 })
  await claimSocketPath(socketPath)
  const perUid = new Map<number, number>()
  let open = 0
  // stopping (a restart, an upgrade): the sessions live on and register again with the next
  // service, so their connections closing now is not their end (no unregister, no end line)
  let stopping = false

  const server = Bun.listen<Conn>({
    unix: socketPath,
    socket: {
      open(s) {
        s.data = { lines: new LineSplitter(), writer: new LineWriter(s), queue: Promise.resolve() }
        let peer: Peer
        try {
          peer = peerOf((s as unknown as { fd: number }).fd)
        } catch (err) {
          logger.warn(`Failed to identify a client: ${(err as Error).message}`)
          return void s.end()
        }
        const refused = mayConnect(open, perUid.get(peer.uid) ?? 0, peer.uid)
        if (refused) {
          s.data.writer.send({ id: 0, e: `Failed to connect to the state service: ${refused}` })
          return void s.end()
        }
        open++
        perUid.set(peer.uid, (perUid.get(peer.uid) ?? 0) + 1)
        s.data.client = { peer }
      },
      data(s, chunk) {
        const conn = s.data
        if (!conn.client) return
        let lines: string[]
        try {
          lines = conn.lines.push(chunk)
        } catch (err) {
          conn.writer.send({ id: 0, e: `Failed to read the request: ${(err as Error).message}` })
          return void s.end()
        }
        for (const line of lines) conn.queue = conn.queue.then(() => answer(ctx, s, conn, line))
      },
      drain(s) {
        s.data.writer.drain()
      },
      close(s) {
        const client = s.data?.client
        if (!client) return
        s.data.client = undefined
        open--
        perUid.set(client.peer.uid, (perUid.get(client.peer.uid) ?? 1) - 1)
        if (stopping) return
        // a session that went away without unregistering (killed, or its gateway sshd gone)
        s.data.queue = s.data.queue.then(() => endRegistration(ctx, client))
      },
      error(_s, err) {
        logger.debug(`state service client error: ${err.message}`)
      },
    },
  })
  chmodSync(socketPath, SOCKET_MODE)
  logger.info(
    `route state service listening on ${socketPath} (${top.etcd.endpoints.length ? `etcd ${top.etcd.endpoints.join(',')}` : top.state.path})`,
  )
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve())
  })
  stopping = true
  server.stop(true)
  rmSync(socketPath, { force: true })
  stores.close()
  return 0
}

async function answer(
  ctx: ServiceContext,
  s: Socket<Conn>,
  conn: Conn,
  line: string,
): Promise<void> {
  const client = conn.client
  if (!client) return
  const req = parseRequest(line)
  if (!req) {
    conn.writer.send({
      id: 0,
      e: 'Failed to read the request: not a {"id","op","a"} JSON object with a known op',
    })
    return void s.end()
  }
  try {
    const r = await handle(ctx, client, req.op, req.a)
    conn.writer.send({ id: req.id, r: r ?? null })
  } catch (err) {
    conn.writer.send({ id: req.id, e: errorText(req.op, err) })
  }
}
