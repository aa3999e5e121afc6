/**
 * `burrow serve`: a TCP listener that screens connections (per-source penalties, MaxStartups),
 * hands them to an ssh2 Server, authenticates (auth.ts) within the grace time, and then serves
 * session channels into Incus (session.ts).
 */
import net from 'node:net'
import { hostname } from 'node:os'
import { Server } from 'ssh2'
import pkg from '../../../package.json' with { type: 'json' }
import type { Connection } from 'ssh2'
import { logger } from '../../core/log'
import type { EndpointOptions } from '../../incus'
import { groupIds } from '../auth/accounts'
import type { AuthDeps, Identity, Method } from '../auth/auth'
import { ConnectionAuth } from '../auth/auth'
import { instanceKeys, instancePassword } from '../auth/inauth'
import type { ShellMode } from '../session/command'
import { loadHostKeys } from '../transport/host-keys'
import { Instances } from '../session/instance'
import type { PenaltySpec, StartupsSpec } from './limits'
import { ConnectionLimits } from './limits'
import { listenTcp } from './listen'
import type { IncusAccess } from '../policy'
import { incusAccess, OFFERED_KEX, projectFor } from '../policy'
import { formatTarget } from '../auth/login'
import { handleSession } from '../session/session'
import type { SessionOptions } from '../session/options'
import { Forwarding } from '../forward/forward'
import { removeRuntimeDir } from '../../incus/owner'
import { cleanStale } from '../../incus/proxy-device'

export interface ServeOptions {
  listen: string
  hostKeys: string[]
  /** authorized_keys paths with %h/%u/%U tokens */
  keyFiles?: string[]
  groups: string[]
  chains: Method[][]
  noauth: boolean
  inauth: boolean
  /** apply environment= options of authorized_keys (sshd PermitUserEnvironment) */
  permitUserEnvironment?: boolean
  /** --inauth with password auth: also the instance user's password in the instance */
  instancePasswords?: boolean
  shell: ShellMode
  banner?: string
  welcome?: string
  acceptEnv: string[]
  loginGraceMs: number
  maxStartups: StartupsSpec
  penalty: PenaltySpec
  maxAuthTries: number
  endpoint: EndpointOptions
  checkPassword?: AuthDeps['checkPassword']
  /** -r/--remote: the remote for logins that name none */
  defaultRemote?: string
  createDefaults?: SessionOptions['createDefaults']
  mux?: SessionOptions['mux']
  checkHealth?: SessionOptions['checkHealth']
}

/**
 * ssh2's default ciphers; chacha20-poly1305@openssh.com (the default OpenSSH client's first
 * choice) is among them when the build's ssh2 patch found libcrypto (src/serve/transport/ssh2-binding.ts).
 * Under a Bun without the patch naming it would throw, so it is offered only from that list.
 */
function ciphers(): string[] {
  const { DEFAULT_CIPHER } = require('ssh2/lib/protocol/constants.js') as {
    DEFAULT_CIPHER: string[]
  }
  return DEFAULT_CIPHER
}

/** What a connection's life tells the limits (and a --master worker tells its master). */
export interface ConnectionReport {
  /** authenticated: its MaxStartups slot is free and the grace timer is off */
  authenticated?: boolean
  /** the connection closed; `failed` counts it against its source address */
  closed?: { failed: boolean }
}

export interface ServeHandle {
  address: net.AddressInfo
  close(): Promise<void>
  /** serves one already accepted connection (a --master worker's); `listen: ''` listens on nothing */
  inject(sock: net.Socket, report?: (r: ConnectionReport) => void): void
}

/** Everything one server shares across its connections. */
interface Shared {
  o: ServeOptions
  ssh: Server
  instances: Instances
  deps: AuthDeps
  allowedGids: Set<number>
  incusGroups: { admin: Set<number>; user: Set<number> }
  forwardings: Set<Forwarding>
  sockets: Set<net.Socket>
  /** ssh2 reports a connection once its SSH identification arrived; found by peer address */
  pending: Map<string, (client: Connection) => void>
}

/** Starts serving; resolves with the bound address, and `closed` when the server has stopped. */
export async function startServe(o: ServeOptions): Promise<ServeHandle> {
  const keys = loadHostKeys(o.hostKeys)
  logger.debug(`host keys: ${keys.map((k) => `${k.path} (${k.type})`).join(', ')}`)
  const instances = new Instances(o.endpoint, o.defaultRemote)
  // forwarding devices of a server that was killed (kill -9) before it could remove them;
  // a worker (listen '') serves one connection and leaves this to its master
  if (o.listen !== '') await cleanStale(instances.client('local'))
  const sh: Shared = {
    o,
    ssh: new Server({
      hostKeys: keys.map((k) => k.pem),
      algorithms: { cipher: ciphers() as never, kex: [...OFFERED_KEX] as never },
      // Both SFTP servers behind burrow (the instance's OpenSSH sftp-server, Incus's pkg/sftp)
      // take SSH_FXP_SYMLINK's arguments in OpenSSH's order, not the draft's; clients such as
      // asyncssh pick the order from this string, so it says so (RFC 4253 §4.2 comments)
      ident: `burrow_${pkg.version} OpenSSH-compatible-SFTP`,
      banner: o.banner?.replaceAll('[HOSTNAME]', hostname()),
    }),
    instances,
    deps: authDeps(o, instances),
    allowedGids: groupIds(o.groups),
    incusGroups: { admin: groupIds(['incus-admin']), user: groupIds(['incus']) },
    forwardings: new Set(),
    sockets: new Set(),
    pending: new Map(),
  }
  sh.ssh.on('connection', (client, info) => {
    const key = `${info.ip}|${info.port}`
    const handler = sh.pending.get(key)
    sh.pending.delete(key)
    if (handler) handler(client)
    else client.end()
  })
  const inject = (sock: net.Socket, report?: (r: ConnectionReport) => void) => {
    sh.sockets.add(sock)
    accept(sh, sock, sock.remoteAddress ?? '?', report ?? (() => {}))
  }
  const closeAll = async () => {
    for (const s of sh.sockets) s.destroy()
    // devices go before the process does
    await Promise.all([...sh.forwardings].map((f) => f.close()))
    // host-side sockets go with the process
    removeRuntimeDir()
  }
  if (o.listen === '')
    return { address: { address: '', family: '', port: 0 }, inject, close: closeAll }
  const tcp = await listenScreened(o, inject)
  return {
    address: tcp.address() as net.AddressInfo,
    inject,
    close: async () => {
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()))
      await closeAll()
      await closed
    },
  }
}

function authDeps(o: ServeOptions, instances: Instances): AuthDeps {
  const deps: AuthDeps = { checkPassword: o.checkPassword }
  if (o.inauth) deps.instanceKeys = (t) => instanceKeys(instances, t)
  if (o.instancePasswords)
    deps.checkInstancePassword = (t, pw) => instancePassword(instances, t, pw)
  return deps
}

/**
 * The listener: a source with too many failed connections is refused, and beyond MaxStartups
 * new connections are dropped, both before any SSH is spoken.
 */
async function listenScreened(
  o: ServeOptions,
  inject: (sock: net.Socket, report: (r: ConnectionReport) => void) => void,
): Promise<net.Server> {
  const limits = new ConnectionLimits(o.maxStartups, o.penalty)
  const tcp = net.createServer((sock) => {
    const ip = sock.remoteAddress ?? '?'
    const refused = limits.admit(ip)
    if (refused) {
      logger.info(refused)
      return sock.destroy()
    }
    inject(sock, limits.reporter(ip))
  })
  await listenTcp(tcp, o.listen)
  return tcp
}

/** One connection: authentication within the grace time, then its sessions and forwarding. */
function accept(sh: Shared, sock: net.Socket, ip: string, report: (r: ConnectionReport) => void) {
  const { o } = sh
  let timedOut = false
  const auth = new ConnectionAuth(
    {
      chains: o.chains,
      noauth: o.noauth,
      inauth: o.inauth,
      allowedGids: sh.allowedGids,
      maxTries: o.maxAuthTries,
      keyFiles: o.keyFiles,
    },
    sh.deps,
    ip,
  )
  const grace = o.loginGraceMs
    ? setTimeout(() => {
        timedOut = true
        logger.info(`Timeout before authentication for ${ip} port ${sock.remotePort}`)
        sock.destroy()
      }, o.loginGraceMs)
    : undefined
  const peer = `${ip}|${sock.remotePort}`
  sock.once('close', () => {
    sh.sockets.delete(sock)
    sh.pending.delete(peer)
    clearTimeout(grace)
    report({ closed: { failed: !auth.identity && (auth.failures > 0 || timedOut) } })
  })
  sock.on('error', (err) => logger.debug(`socket ${ip}: ${err.message}`))
  sh.pending.set(peer, (client) => {
    client.on('error', (err) => logger.debug(`ssh ${ip}: ${err.message}`))
    client.on('authentication', (ctx) => {
      auth.handle(ctx).then(
        (id) => {
          if (id || auth.failures < o.maxAuthTries) return
          logger.info(
            `Too many authentication failures for ${JSON.stringify(ctx.username)} from ${ip}`,
          )
          client.end()
        },
        (err) => {
          logger.error(err)
          client.end()
        },
      )
    })
    client.on('ready', () => {
      clearTimeout(grace)
      report({ authenticated: true })
      ready(sh, client, auth.identity!, sock, ip)
    })
  })
  sh.ssh.injectSocket(sock)
}

/** An authenticated connection: its forwarding and its session channels. */
function ready(sh: Shared, client: Connection, authId: Identity, sock: net.Socket, ip: string) {
  const { o } = sh
  const access = incusAccess(authId, sh.incusGroups)
  const id = inProject(authId, access)
  logger.info(
    `Accepted ${id.via.join('+')} for ${formatTarget(id.target)} from ${ip} port ${sock.remotePort}${id.key ? ` (${id.key.origin})` : ''}` +
      `, Incus as ${describeAccess(access)}`,
  )
  const connection = `${ip} ${sock.remotePort} ${sock.localAddress} ${sock.localPort}`
  const mine = sh.instances.as(access)
  const forwarding = new Forwarding(client, id, mine, access)
  sh.forwardings.add(forwarding)
  client.once('close', () => void forwarding.close().then(() => sh.forwardings.delete(forwarding)))
  client.on('session', (acceptSession) => {
    handleSession(acceptSession(), id, {
      instances: mine,
      access,
      shell: o.shell,
      acceptEnv: o.acceptEnv,
      permitUserEnvironment: o.permitUserEnvironment,
      welcome: o.welcome,
      connection,
      createDefaults: o.createDefaults,
      mux: o.mux,
      checkHealth: o.checkHealth,
      forwarding,
    })
  })
}

/** The login's project as the person's own incus client reads it (policy.ts projectFor). */
function inProject(id: Identity, access: IncusAccess): Identity {
  const project = projectFor(access, id.target.project)
  return project === id.target.project ? id : { ...id, target: { ...id.target, project } }
}

function describeAccess(a: IncusAccess): string {
  if (a.kind === 'admin')
    return a.root ? 'root (admin socket)' : `${a.account.name} (incus-admin: admin socket)`
  if (a.kind === 'user') return `${a.account.name} (incus: certificate for ${a.project})`
  if (a.kind === 'instance') return `the server for instance ${a.target.instance} only (--inauth)`
  return `nobody (${a.reason})`
}
