/**
 * Where an Incus API lives: the local daemon's unix socket, or an HTTPS remote with a TLS client
 * certificate. Remotes named in the `incus` client's own config.yml are usable by name.
 */
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { BurrowError, fail } from '../core/errors'
import type { StartTlsCredentials } from './starttls'

export const DEFAULT_SOCKET = '/var/lib/incus/unix.socket'
/** where incus-user keeps each user's restricted client certificate (cmd/incus-user/server.go) */
export const INCUS_DIR = '/var/lib/incus'

export type Endpoint =
  | {
      kind: 'unix'
      name: string
      socket: string
      /**
       * present: talk to the socket as this client certificate (STARTTLS), so that Incus applies
       * the certificate's restrictions; absent: the socket's own (admin) access
       */
      certificate?: StartTlsCredentials & { uid: number; project: string }
    }
  | {
      kind: 'https'
      name: string
      /** base URL without a trailing slash, e.g. https://10.0.0.2:8443 */
      url: string
      /** PEM texts */
      cert: string
      key: string
      /** the server's own certificate, pinned; without it the system CAs decide */
      serverCert?: string
    }

export interface EndpointOptions {
  socket?: string
  url?: string
  clientCert?: string
  clientKey?: string
  serverCert?: string
  /** the incus client's config directory; default $INCUS_CONF or ~/.config/incus */
  configDir?: string
}

/** The default endpoint: `--url` (HTTPS) when given, else `--socket`, $INCUS_SOCKET, the package default. */
export function defaultEndpoint(opts: EndpointOptions = {}): Endpoint {
  if (opts.url) {
    const dir = configDir(opts)
    return httpsEndpoint('url', opts.url, {
      cert: opts.clientCert ?? join(dir, 'client.crt'),
      key: opts.clientKey ?? join(dir, 'client.key'),
      server: opts.serverCert,
    })
  }
  return {
    kind: 'unix',
    name: 'local',
    socket: opts.socket || process.env.INCUS_SOCKET || DEFAULT_SOCKET,
  }
}

/**
 * The endpoint of a remote named in the login (`remote:instance`). `local` (and the empty name) is
 * the default endpoint; others come from config.yml as the incus client itself stores them.
 */
export function remoteEndpoint(name: string, opts: EndpointOptions = {}): Endpoint {
  if (name === '' || name === 'local') return defaultEndpoint(opts)
  const dir = configDir(opts)
  const remote = readRemotes(dir)[name]
  if (!remote) fail(`find Incus remote '${name}'`, `no such remote in ${join(dir, 'config.yml')}`)
  if (remote.protocol && remote.protocol !== 'incus') {
    fail(`use Incus remote '${name}'`, `protocol '${remote.protocol}' is not an Incus API`)
  }
  const addr = remote.addr ?? ''
  if (addr.startsWith('unix:')) {
    const path = addr.replace(/^unix:(\/\/)?/, '')
    return {
      kind: 'unix',
      name,
      socket: path || opts.socket || process.env.INCUS_SOCKET || DEFAULT_SOCKET,
    }
  }
  if (!addr.startsWith('https://'))
    fail(`use Incus remote '${name}'`, `unsupported address '${addr}'`)
  const serverCert = join(dir, 'servercerts', `${name}.crt`)
  return httpsEndpoint(name, addr, {
    cert: join(dir, 'client.crt'),
    key: join(dir, 'client.key'),
    server: existsSync(serverCert) ? serverCert : undefined,
  })
}

/**
 * The local daemon as host user `uid`, exactly as incus-user reaches it for that user: the
 * restricted client certificate in /var/lib/incus/users/<uid>/ (client.crt, client.key), trusted
 * for project `user-<uid>` only. Throws one line saying how to get it when it is missing.
 */
export function userEndpoint(
  uid: number,
  userName: string,
  opts: EndpointOptions & { incusDir?: string } = {},
): Endpoint {
  const base = defaultEndpoint({ ...opts, url: undefined })
  const dir = opts.incusDir ?? process.env.INCUS_DIR ?? INCUS_DIR
  const users = join(dir, 'users', String(uid))
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8')
    } catch {
      return undefined
    }
  }
  const cert = read(join(users, 'client.crt'))
  const key = read(join(users, 'client.key'))
  if (!cert || !key)
    throw new BurrowError(
      `Failed to use Incus as ${userName}: no restricted client certificate in ${users}/ (run \`incus\` once as ${userName} on this host, where incus-user sets it up)`,
    )
  const serverCert = read(join(dir, 'cluster.crt')) ?? read(join(dir, 'server.crt'))
  if (!serverCert) fail(`use Incus as ${userName}`, `no server certificate in ${dir} (server.crt)`)
  return {
    kind: 'unix',
    name: 'local',
    socket: (base as { socket: string }).socket,
    certificate: { cert, key, serverCert, uid, project: `user-${uid}` },
  }
}

function httpsEndpoint(
  name: string,
  url: string,
  files: { cert: string; key: string; server?: string },
): Endpoint {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path, 'utf8')
    } catch (err) {
      return fail(`read ${what} ${path} for Incus remote '${name}'`, (err as Error).message)
    }
  }
  return {
    kind: 'https',
    name,
    url: url.replace(/\/+$/, ''),
    cert: read('client certificate', files.cert),
    key: read('client key', files.key),
    serverCert: files.server ? read('server certificate', files.server) : undefined,
  }
}

function configDir(opts: EndpointOptions): string {
  return opts.configDir ?? process.env.INCUS_CONF ?? join(homedir(), '.config', 'incus')
}

interface RemoteEntry {
  addr?: string
  protocol?: string
}

function readRemotes(dir: string): Record<string, RemoteEntry> {
  const path = join(dir, 'config.yml')
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return {}
  }
  // required here, not imported: yaml costs ~2.5 ms of start-up that `burrow proxy` never needs
  const { parse } = require('yaml') as typeof import('yaml')
  const doc = parse(text) as { remotes?: Record<string, RemoteEntry> } | null
  const remotes = doc?.remotes ?? {}
  return Object.assign(Object.create(null), remotes)
}
