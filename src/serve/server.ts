/**
 * `burrow serve`: a TCP listener that screens connections (per-source penalties, MaxStartups),
 * hands them to an ssh2 Server, authenticates (auth.ts) within the grace time, and then serves
 * session channels into Incus (session.ts).
 */
import net from 'node:net'
import { hostname } from 'node:os'
import { Server } from 'ssh2'
import pkg from '../../package.json' with { type: 'json' }
import type { Connection } from 'ssh2'
import { BurrowError, fail } from '../core/errors'
import { logger } from '../core/log'
import type { EndpointOptions } from '../backends/incus'
import { groupIds, mayUseIncus } from './accounts'
import type { AuthDeps, Method } from './auth'
import { ConnectionAuth } from './auth'
import type { ShellMode } from './command'
import { loadHostKeys } from './host-keys'
import { Instances } from './instance'
import type { PenaltySpec, StartupsSpec } from './limits'
import { Penalties, Startups } from './limits'
import { formatTarget } from './login'
import { handleSession } from './session'
import type { SessionOptions } from './session'
import { Forwarding } from './forward'
import { cleanStale } from '../backends/incus/proxy-device'

export interface ServeOptions {
  listen: string
  hostKeys: string[]
  /** authorized_keys paths with %h/%u/%U tokens */
  keyFiles?: string[]
  groups: string[]
  chains: Method[][]
  noauth: boolean
  inauth: boolean
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

/** ":2222", "2222", "127.0.0.1:2222", "[::1]:2222" → host (undefined = every address) and port */
export function parseListen(text: string): { host?: string; port: number } {
  const m = /^(?:(?:\[([0-9A-Fa-f:.%\w]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(text)
  const port = m ? Number(m[3]) : NaN
  if (!m || port > 65535)
    fail(
      `parse --listen '${text}'`,
      'expected [HOST]:PORT, e.g. :2222, 127.0.0.1:2222 or [::1]:2222',
    )
  return { host: m[1] ?? (m[2] || undefined), port }
}

const LISTEN_HINTS: Record<string, string> = {
  EADDRINUSE: 'address already in use (is another burrow serve or sshd listening there?)',
  EACCES: 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
  EADDRNOTAVAIL: 'no such address on this host',
}

/** Binds `tcp` to --listen; a foreseeable failure (port taken, no permission) is one line. */
export async function listenTcp(tcp: net.Server, listen: string): Promise<void> {
  const { host, port } = parseListen(listen)
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', (err: NodeJS.ErrnoException) => {
      const hint = LISTEN_HINTS[err.code ?? '']
      reject(new BurrowError(`Failed to listen on ${listen}: ${hint ?? err.message}`))
    })
    tcp.listen({ host, port }, () => resolve())
  })
}

// chacha20-poly1305 is missing from Bun's crypto (naming it throws); offer what ssh2 can do
function ciphers(): string[] {
  const { DEFAULT_CIPHER } = require('ssh2/lib/protocol/constants.js') as {
    DEFAULT_CIPHER: string[]
  }
  return DEFAULT_CIPHER.filter((c) => !c.startsWith('chacha20'))
}

/** Starts serving; resolves with the bound address, and `closed` when the server has stopped. */
export async function startServe(
  o: ServeOptions,
): Promise<{
  address: net.AddressInfo
  close(): Promise<void>
  /** serves one already accepted connection (a --master worker's); `listen: ''` listens on nothing */
  inject(sock: net.Socket): void
}> {
  const keys = loadHostKeys(o.hostKeys)
  logger.debug(`host keys: ${keys.map((k) => `${k.path} (${k.type})`).join(', ')}`)
  const allowedGids = groupIds(o.groups)
  const instances = new Instances(o.endpoint, o.defaultRemote)
  const penalties = new Penalties(o.penalty)
  // forwarding devices of a server that was killed (kill -9) before it could remove them;
  // a worker (listen '') serves one connection and leaves this to its master
  if (o.listen !== '') await cleanStale(instances.client('local'))
  const adminGids = groupIds(['incus-admin'])
  const forwardings = new Set<Forwarding>()
  const startups = new Startups(o.maxStartups)
  const deps: AuthDeps = { checkPassword: o.checkPassword }
  if (o.inauth) deps.instanceKeys = (t) => instanceKeys(instances, t)

  const ssh = new Server({
    hostKeys: keys.map((k) => k.pem),
    algorithms: { cipher: ciphers() as never },
    // Both SFTP servers behind burrow (the instance's OpenSSH sftp-server, Incus's pkg/sftp)
    // take SSH_FXP_SYMLINK's arguments in OpenSSH's order, not the draft's; clients such as
    // asyncssh pick the order from this string, so it says so (RFC 4253 §4.2 comments)
    ident: `burrow_${pkg.version} OpenSSH-compatible-SFTP`,
    banner: o.banner?.replaceAll('[HOSTNAME]', hostname()),
  })
  const sockets = new Set<net.Socket>()
  // ssh2 reports a connection once its SSH identification arrived; find ours by peer address
  const pending = new Map<string, (client: Connection) => void>()
  ssh.on('connection', (client, info) => {
    const key = `${info.ip}|${info.port}`
    const handler = pending.get(key)
    pending.delete(key)
    if (handler) handler(client)
    else client.end()
  })
  const tcp = net.createServer((sock) => {
    const ip = sock.remoteAddress ?? '?'
    if (penalties.blocked(ip)) {
      logger.info(`Refused connection from ${ip}: too many failed logins recently`)
      return sock.destroy()
    }
    if (!startups.admit()) {
      logger.info(
        `Dropped connection from ${ip}: ${startups.pending} unauthenticated connections (--max-startups)`,
      )
      return sock.destroy()
    }
    sockets.add(sock)
    accept(sock, ip)
  })

  function accept(sock: net.Socket, ip: string): void {
    let released = false
    const release = () => {
      if (!released) startups.done()
      released = true
    }
    let timedOut = false
    const auth = new ConnectionAuth(
      {
        chains: o.chains,
        noauth: o.noauth,
        inauth: o.inauth,
        allowedGids,
        maxTries: o.maxAuthTries,
        keyFiles: o.keyFiles,
      },
      deps,
      ip,
    )
    const grace = o.loginGraceMs
      ? setTimeout(() => {
          timedOut = true
          logger.info(`Timeout before authentication for ${ip} port ${sock.remotePort}`)
          sock.destroy()
        }, o.loginGraceMs)
      : undefined
    sock.once('close', () => {
      sockets.delete(sock)
      clearTimeout(grace)
      release()
      if (!auth.identity && (auth.failures > 0 || timedOut)) penalties.record(ip)
    })
    sock.on('error', (err) => logger.debug(`socket ${ip}: ${err.message}`))

    const onConnection = (client: Connection) => {
      client.on('error', (err) => logger.debug(`ssh ${ip}: ${err.message}`))
      client.on('authentication', (ctx) => {
        auth.handle(ctx).then(
          (id) => {
            if (!id && auth.failures >= o.maxAuthTries) {
              logger.info(
                `Too many authentication failures for ${JSON.stringify(ctx.username)} from ${ip}`,
              )
              client.end()
            }
          },
          (err) => {
            logger.error(err)
            client.end()
          },
        )
      })
      client.on('ready', () => {
        clearTimeout(grace)
        release()
        const id = auth.identity!
        logger.info(
          `Accepted ${id.via.join('+')} for ${formatTarget(id.target)} from ${ip} port ${sock.remotePort}${id.key ? ` (${id.key.origin})` : ''}`,
        )
        const connection = `${ip} ${sock.remotePort} ${sock.localAddress} ${sock.localPort}`
        const mayJump = !!id.account && mayUseIncus(id.account, adminGids)
        const forwarding = new Forwarding(client, id, instances, mayJump)
        forwardings.add(forwarding)
        client.once('close', () => void forwarding.close().then(() => forwardings.delete(forwarding)))
        client.on('session', (acceptSession) => {
          handleSession(acceptSession(), id, {
            instances,
            shell: o.shell,
            acceptEnv: o.acceptEnv,
            welcome: o.welcome,
            connection,
            createDefaults: o.createDefaults,
            mux: o.mux,
            checkHealth: o.checkHealth,
            forwarding,
          })
        })
      })
    }
    pending.set(`${ip}|${sock.remotePort}`, onConnection)
    sock.once('close', () => pending.delete(`${ip}|${sock.remotePort}`))
    ssh.injectSocket(sock)
  }

  const inject = (sock: net.Socket) => {
    sockets.add(sock)
    accept(sock, sock.remoteAddress ?? '?')
  }
  if (o.listen === '')
    return {
      address: { address: '', family: '', port: 0 },
      inject,
      close: async () => {
        for (const s of sockets) s.destroy()
        await Promise.all([...forwardings].map((f) => f.close()))
      },
    }
  await listenTcp(tcp, o.listen)
  const address = tcp.address() as net.AddressInfo
  return {
    address,
    inject,
    close: async () => {
      await new Promise<void>((resolve) => {
        tcp.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
      // devices go before the process does
      await Promise.all([...forwardings].map((f) => f.close()))
    },
  }
}

/** --inauth: the keys in the instance user's ~/.ssh/authorized_keys, read with the file API. */
async function instanceKeys(
  instances: Instances,
  t: Parameters<NonNullable<AuthDeps['instanceKeys']>>[0],
) {
  const { parseAuthorizedKeys } = await import('./authorized-keys')
  try {
    const client = instances.client(t.remote)
    const user = await instances.user(client, t)
    const file = await client.readFile(t.instance, t.project, `${user.home}/.ssh/authorized_keys`)
    return parseAuthorizedKeys(
      new TextDecoder().decode(file.content),
      `${t.instance}:${user.home}/.ssh/authorized_keys`,
    )
  } catch (err) {
    logger.debug(`instance keys for ${formatTarget(t)}: ${(err as Error).message}`)
    return []
  }
}
