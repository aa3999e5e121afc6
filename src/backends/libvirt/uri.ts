/**
 * Which daemon socket a libvirt URI reaches, and the name that REMOTE_PROC_CONNECT_OPEN sends,
 * computed as libvirt's remote driver does for a local read-only connection
 * (src/remote/remote_sockets.c: remoteSplitURIScheme, remoteGetURIDaemonInfo, remoteGetUNIXSocket;
 * remote_driver.c: doRemoteOpen, remoteConnectFormatURI).
 *
 * Supported: `DRIVER:///PATH` and `DRIVER+unix:///PATH`, with the URI parameters `socket=`, `mode=`
 * (auto, legacy, direct) and `name=`; other parameters pass on to the daemon, as libvirt's do.
 * Refused with a clear error: remote hosts and the tls, tcp, ssh, libssh, libssh2 and ext
 * transports (a vsock CID is only reachable on the domain's own host). Ignored: `remote_mode` in
 * libvirt.conf (auto mode finds whichever socket exists) and `auth=` (the daemon's first offer is
 * taken). Unlike libvirt, burrow never spawns a session daemon.
 */
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'

export interface Target {
  /** the daemon's unix socket */
  socket: string
  /** the URI the daemon opens: the driver's scheme, path and remaining parameters */
  name: string
  /** a per-user (session) daemon, whose socket lives in the user's runtime directory */
  user: boolean
}

export interface Environment {
  euid: number
  env: Record<string, string | undefined>
  exists: (path: string) => boolean
}

const host = (): Environment => ({
  euid: process.geteuid?.() ?? 0,
  env: process.env,
  exists: existsSync,
})

// LOCALSTATEDIR "/run/libvirt": libvirt deliberately uses /var/run, which every host with /run links
const SYSTEM_DIR = '/var/run/libvirt'
const TRANSPORTS = ['tls', 'unix', 'ssh', 'libssh2', 'ext', 'tcp', 'libssh']
// parameters the remote driver consumes for other transports: never passed on to the daemon
const STRIPPED = [
  'command',
  'sshauth',
  'netcat',
  'keyfile',
  'pkipath',
  'known_hosts',
  'known_hosts_verify',
  'tls_priority',
  'proxy',
  'no_sanity',
  'no_verify',
  'no_tty',
  'auth',
  'authfile',
]
const URI = /^([A-Za-z][A-Za-z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(#.*)?$/

/** Thrown for URIs burrow cannot or will not open; the message says why. */
export class UnsupportedUriError extends Error {
  override name = 'UnsupportedUriError'
}

/** virGetUserRuntimeDirectory: glib's user runtime directory, which falls back to the cache directory. */
function userRuntimeDir(env: Environment['env']): string {
  const base = env.XDG_RUNTIME_DIR || env.XDG_CACHE_HOME || `${env.HOME || homedir()}/.cache`
  return `${base}/libvirt`
}

/** The socket and CONNECT_OPEN name for `uri`, as a read-only client. */
export function targetOf(uri: string, on: Environment = host()): Target {
  const m = URI.exec(uri)
  if (!m)
    throw new UnsupportedUriError(
      `'${uri}' is not a libvirt URI (expected DRIVER:///PATH, for example qemu:///system)`,
    )
  const [, scheme, server, path = '', query, fragment = ''] = m as unknown as (string | undefined)[]
  const plus = scheme!.indexOf('+')
  const driver = plus < 0 ? scheme! : scheme!.slice(0, plus)
  const transport = plus < 0 ? 'unix' : scheme!.slice(plus + 1).toLowerCase()
  if (!TRANSPORTS.includes(transport)) {
    throw new UnsupportedUriError(
      `transport '${transport}' in '${uri}' is unknown (libvirt knows ${TRANSPORTS.join(', ')})`,
    )
  }
  // a host without a transport means TLS to that host (remoteSplitURIScheme)
  if (server || transport !== 'unix') {
    throw new UnsupportedUriError(
      `'${uri}' names a remote daemon${server ? ` on '${server}'` : ` over ${transport}`}; burrow reaches only the local daemon's unix socket (use ${driver}://${path} on that host)`,
    )
  }

  let socket: string | undefined
  let mode = 'auto'
  let name: string | undefined
  const passed: string[] = []
  // virURIParseParams splits on both '&' and ';'; names compare case-insensitively (STRCASEEQ)
  for (const raw of (query ?? '').split(/[&;]/).filter(Boolean)) {
    const eq = raw.indexOf('=')
    const key = decodeURIComponent(eq < 0 ? raw : raw.slice(0, eq)).toLowerCase()
    const value = eq < 0 ? '' : decodeURIComponent(raw.slice(eq + 1))
    if (key === 'socket') socket = value
    else if (key === 'mode') mode = value
    else if (key === 'name') name = value
    else if (!STRIPPED.includes(key)) passed.push(raw)
  }
  if (!['auto', 'legacy', 'direct'].includes(mode))
    throw new UnsupportedUriError(
      `Unknown remote mode '${mode}' in '${uri}' (use auto, legacy or direct)`,
    )

  // per-user daemon: session URIs, and the test driver given a transport, unless root
  const user = (path === '/session' || scheme!.startsWith('test+')) && on.euid > 0
  const sockPath = (prefix: string) =>
    user ? `${userRuntimeDir(on.env)}/${prefix}-sock` : `${SYSTEM_DIR}/${prefix}-sock-ro`
  if (!socket) {
    const direct = sockPath(`virt${driver}d`)
    const legacy = sockPath('libvirt')
    // auto: the modular daemon's socket if it exists, else libvirtd's; neither: the build default, legacy
    socket = mode === 'direct' || (mode === 'auto' && on.exists(direct)) ? direct : legacy
  }
  name ??= `${driver}://${path}${passed.length ? `?${passed.join('&')}` : ''}${fragment}`
  return { socket, name, user }
}
