/**
 * Where an Incus API lives: the local daemon's unix socket, or an HTTPS remote with a TLS client
 * certificate. Remotes named in the `incus` client's own config.yml are usable by name.
 */
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fail } from '../../core/errors'

export const DEFAULT_SOCKET = '/var/lib/incus/unix.socket'

export type Endpoint =
  | { kind: 'unix'; name: string; socket: string }
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
