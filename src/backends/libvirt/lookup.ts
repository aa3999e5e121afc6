/**
 * Finding a libvirt domain and its vsock CID, in libvirt-ssh-proxy's order (tools/ssh-proxy):
 * each URI in turn by name, UUID, then ID; burrow then falls back to a unique case-insensitive
 * name, because OpenSSH lowercases `qemu/MyVM`.
 */
import { fail } from '../../core/errors'
import { logger } from '../../core/log'
import { readVsockCid } from './domain-xml'
import { caseInsensitiveMatches, closestNames } from './match'
import { Connection, type Domain, parseUUID } from './remote'
import * as rpc from './rpc'

export interface FoundCid {
  uri: string
  name: string
  cid: string
}

// virUUIDParse accepts 32 hex digits with '-' or spaces between them
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i

/** One call per form that `name` could be, in libvirt-ssh-proxy's order. */
async function lookupExact(conn: Connection, name: string): Promise<Domain | undefined> {
  return (
    (await conn.lookupByName(name)) ??
    (UUID.test(name) ? await conn.lookupByUUID(parseUUID(name)!) : undefined) ??
    (/^[0-9]{1,9}$/.test(name) ? await conn.lookupByID(Number(name)) : undefined)
  )
}

const virshHint = (uri: string, verb: string, name: string) => `virsh -c ${uri} ${verb} ${name}`

/** virDomainState values that mean a guest can answer: VIR_DOMAIN_RUNNING, VIR_DOMAIN_BLOCKED. */
const RUNNING = new Set([1, 2])

/** Why a domain in `state` (virDomainState) cannot be reached, and the virsh command that changes that. */
export function notRunning(state: number, uri: string, name: string): string {
  const [what, todo, verb] = {
    3: ['it is paused', 'resume it', 'resume'],
    4: ['it is shutting down', 'start it', 'start'],
    5: ['it is shut off', 'start it', 'start'],
    6: ['it has crashed', 'start it', 'start'],
    7: ['it is suspended by power management', 'wake it', 'dompmwakeup'],
  }[state] ?? [`it is not running (state ${state})`, 'start it', 'start']
  return `${what} (${todo}: ${virshHint(uri, verb!, name)})`
}

/**
 * The CID from the domain's XML, only while the domain runs: a shut-off domain's XML keeps its
 * static CID, which a running clone may hold meanwhile (libvirt-ssh-proxy refuses it too).
 */
async function cidOf(conn: Connection, dom: Domain): Promise<FoundCid> {
  const { uri } = conn
  const name = dom.name
  const what = `get the vsock CID of libvirt domain '${name}'`
  const vsock = readVsockCid(await conn.xmlDesc(dom))
  if (!vsock) {
    fail(
      what,
      `it has no vsock device (add <vsock model='virtio'><cid auto='yes'/></vsock> to its <devices> with '${virshHint(uri, 'edit', name)}'; it takes effect at the next start)`,
    )
  }
  const { state } = await conn.state(dom)
  if (!RUNNING.has(state)) {
    if (vsock.address !== undefined) {
      fail(
        `connect to libvirt domain '${name}'`,
        `${notRunning(state, uri, name)}; its CID ${vsock.address} may belong to another VM now`,
      )
    }
    if (!vsock.auto) {
      fail(
        what,
        `its <cid> has no address (set <cid auto='yes'/> or an address with '${virshHint(uri, 'edit', name)}')`,
      )
    }
    // libvirt picks an automatic CID when the domain starts (docs/formatdomain.rst, "Vsock")
    fail(
      what,
      `its CID is assigned automatically when it starts, and ${notRunning(state, uri, name)}`,
    )
  }
  if (vsock.address !== undefined) return { uri, name, cid: vsock.address }
  fail(
    what,
    `libvirt reports no CID for the running domain (check '${virshHint(uri, 'dumpxml', name)}')`,
  )
}

const DENIED_CODES = [
  rpc.VIR_ERR_AUTH_FAILED,
  rpc.VIR_ERR_AUTH_CANCELLED,
  rpc.VIR_ERR_AUTH_UNAVAILABLE,
  rpc.VIR_ERR_ACCESS_DENIED,
]

/**
 * Refused rather than unreachable: an auth error, a polkit check that failed (without a system
 * bus it fails in D-Bus code, as for non-root users on hosts without dbus), or EACCES on the socket.
 */
function isDenied(err: rpc.LibvirtError): boolean {
  return (
    DENIED_CODES.includes(err.code) ||
    err.domain === rpc.VIR_FROM_DBUS ||
    err.domain === rpc.VIR_FROM_POLKIT ||
    /Permission denied/.test(err.message)
  )
}

/** "Failed to connect to libvirt at URI: reason (what to do)", plus any other URI that failed too. */
function connectFailure(failed: Failed): never {
  const [uri, err] = failed[0]!
  const socket = /^Failed to connect socket to '([^']+)': (.*)$/.exec(err.message)
  const reason = socket ? `socket ${socket[1]}: ${socket[2]}` : err.message
  // burrow, unlike libvirt, never spawns a session daemon
  const start = uri.endsWith('/session')
    ? 'is your session daemon running? burrow does not start one: run virsh -c qemu:///session list, or systemctl --user start virtqemud.socket'
    : 'is libvirtd running? start it with systemctl start libvirtd (or virtqemud), or libvirtd -d'
  const hint = isDenied(err)
    ? `permission denied for uid ${process.geteuid?.()}: run as root, or grant read-only access with the libvirt group, polkit rules or auth_unix_ro in libvirtd.conf`
    : socket
      ? start
      : undefined
  const others = failed
    .slice(1)
    .map(([u, e]) => `; ${u} failed too: ${e.message}`)
    .join('')
  fail(`connect to libvirt at ${uri}`, `${hint ? `${reason} (${hint})` : reason}${others}`)
}

type Failed = [uri: string, err: rpc.LibvirtError][]

function notFound(name: string, searched: Connection[], names: string[], failed: Failed): never {
  const where = searched.map((c) => c.uri).join(' or ')
  const near = closestNames(name, names)
  const suggestion = near.length
    ? `closest: ${near.join(', ')}`
    : names.length
      ? 'none has a similar name'
      : 'there are no domains'
  const skipped = failed.map(([uri, err]) => `; ${uri} was not searched: ${err.message}`).join('')
  fail(
    `find libvirt domain '${name}' in ${where}`,
    `no domain has that name, UUID or ID (${suggestion}; see virsh -c ${searched[0]!.uri} list --all)${skipped}`,
  )
}

/** The CID of domain `name`, searching `uris` in order. */
export async function findVsockCid(name: string, uris: readonly string[]): Promise<FoundCid> {
  const open: Connection[] = []
  const failed: Failed = []
  try {
    for (const uri of uris) {
      let conn: Connection
      try {
        conn = await Connection.openReadOnly(uri)
      } catch (err) {
        if (!(err instanceof rpc.LibvirtError)) throw err
        logger.debug(`libvirt: ${uri}: ${err.message}`)
        failed.push([uri, err])
        continue
      }
      open.push(conn)
      const dom = await lookupExact(conn, name)
      if (dom) return await cidOf(conn, dom)
    }
    if (open.length === 0) connectFailure(failed)
    // only now list every domain: the exact lookups above are one call each
    const listed = await Promise.all(open.map(async (c) => ({ c, names: await c.domainNames() })))
    const matches = listed
      .flatMap(({ c, names }) => caseInsensitiveMatches(name, names).map((n) => ({ c, n })))
      .sort((a, b) => (a.n < b.n ? -1 : a.n > b.n ? 1 : 0))
    if (matches.length === 1) {
      const { c, n } = matches[0]!
      logger.debug(`libvirt: no domain '${name}', using '${n}' (same name but for case)`)
      const dom = await c.lookupByName(n)
      if (dom) return await cidOf(c, dom)
    }
    if (matches.length > 1) {
      const list = matches.map(({ c, n }) => (open.length > 1 ? `${n} (${c.uri})` : n)).join(', ')
      fail(
        `find libvirt domain '${name}'`,
        `when case is ignored, several domains have that name: ${list} (type one exactly: ssh keeps the case of qemu%NAME and qemu:system/NAME)`,
      )
    }
    return notFound(
      name,
      open,
      listed.flatMap((l) => l.names),
      failed,
    )
  } finally {
    await Promise.all(open.map((c) => c.close()))
  }
}
