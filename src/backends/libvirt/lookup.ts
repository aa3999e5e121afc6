/**
 * Finding a libvirt domain and its vsock CID, in libvirt-ssh-proxy's order (tools/ssh-proxy):
 * each URI in turn by name, UUID, then ID; burrow then falls back to a unique case-insensitive
 * name, because OpenSSH lowercases `qemu/MyVM`.
 */
import { fail } from '../../core/errors'
import * as virt from '../../core/ffi/libvirt'
import type { Pointer } from '../../core/ffi/native'
import { logger } from '../../core/log'
import { readVsockCid } from './domain-xml'
import { caseInsensitiveMatches, closestNames } from './match'

export interface FoundCid {
  uri: string
  name: string
  cid: string
}

interface Conn {
  uri: string
  conn: Pointer
}

// virUUIDParse accepts 32 hex digits with '-' or spaces between them
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i

function lookupExact(conn: Pointer, name: string): Pointer | undefined {
  return (
    virt.lookupByName(conn, name) ??
    (UUID.test(name) ? virt.lookupByUUIDString(conn, name) : undefined) ??
    (/^[0-9]{1,9}$/.test(name) ? virt.lookupByID(conn, Number(name)) : undefined)
  )
}

const virshHint = (uri: string, verb: string, name: string) => `virsh -c ${uri} ${verb} ${name}`

/** The CID from the domain's XML; the domain is freed here. */
function cidOf(uri: string, dom: Pointer): FoundCid {
  try {
    const name = virt.domainName(dom)
    const what = `get the vsock CID of libvirt domain '${name}'`
    const vsock = readVsockCid(virt.domainXML(dom))
    if (!vsock) {
      fail(
        what,
        `it has no vsock device (add <vsock model='virtio'><cid auto='yes'/></vsock> to its <devices> with '${virshHint(uri, 'edit', name)}'; it takes effect at the next start)`,
      )
    }
    if (vsock.address !== undefined) return { uri, name, cid: vsock.address }
    if (virt.isActive(dom)) {
      fail(what, `libvirt reports no CID for the running domain (check '${virshHint(uri, 'dumpxml', name)}')`)
    }
    if (!vsock.auto) {
      fail(what, `its <cid> has no address (set <cid auto='yes'/> or an address with '${virshHint(uri, 'edit', name)}')`)
    }
    // libvirt picks an automatic CID when the domain starts (docs/formatdomain.rst, "Vsock")
    fail(what, `its CID is assigned automatically when it starts, and it is not running (start it: ${virshHint(uri, 'start', name)})`)
  } finally {
    virt.freeDomain(dom)
  }
}

const DENIED_CODES = [virt.VIR_ERR_AUTH_FAILED, virt.VIR_ERR_AUTH_CANCELLED, virt.VIR_ERR_AUTH_UNAVAILABLE, virt.VIR_ERR_ACCESS_DENIED]

/**
 * Refused rather than unreachable: an auth error, a polkit check that failed (without a system
 * bus it fails in D-Bus code, as for non-root users on hosts without dbus), or EACCES on the socket.
 */
function isDenied(err: virt.LibvirtError): boolean {
  return (
    DENIED_CODES.includes(err.code) ||
    err.domain === virt.VIR_FROM_DBUS ||
    err.domain === virt.VIR_FROM_POLKIT ||
    /Permission denied/.test(err.message)
  )
}

/** "Failed to connect to libvirt at URI: reason (what to do)", plus any other URI that failed too. */
function connectFailure(failed: [string, virt.LibvirtError][]): never {
  const [uri, err] = failed[0]!
  const socket = /^Failed to connect socket to '([^']+)': (.*)$/.exec(err.message)
  const reason = socket ? `socket ${socket[1]}: ${socket[2]}` : err.message
  const hint = isDenied(err)
    ? `permission denied for uid ${process.geteuid?.()}: run as root, or grant read-only access with the libvirt group, polkit rules or auth_unix_ro in libvirtd.conf`
    : socket
      ? 'is libvirtd running? start it with systemctl start libvirtd (or virtqemud), or libvirtd -d'
      : undefined
  const others = failed.slice(1).map(([u, e]) => `; ${u} failed too: ${e.message}`).join('')
  fail(`connect to libvirt at ${uri}`, `${hint ? `${reason} (${hint})` : reason}${others}`)
}

function notFound(name: string, searched: Conn[], names: string[], failed: [string, virt.LibvirtError][]): never {
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
export function findVsockCid(name: string, uris: readonly string[]): FoundCid {
  const open: Conn[] = []
  const failed: [string, virt.LibvirtError][] = []
  try {
    for (const uri of uris) {
      let conn: Pointer
      try {
        conn = virt.openReadOnly(uri)
      } catch (err) {
        if (!(err instanceof virt.LibvirtError)) throw err
        logger.debug(`libvirt: ${uri}: ${err.message}`)
        failed.push([uri, err])
        continue
      }
      open.push({ uri, conn })
      const dom = lookupExact(conn, name)
      if (dom) return cidOf(uri, dom)
    }
    if (open.length === 0) connectFailure(failed)
    // only now list every domain: the exact lookups above are one RPC each
    const listed = open.map((c) => ({ ...c, names: virt.domainNames(c.conn) }))
    const matches = listed
      .flatMap((c) => caseInsensitiveMatches(name, c.names).map((n) => ({ c, n })))
      .sort((a, b) => (a.n < b.n ? -1 : a.n > b.n ? 1 : 0))
    if (matches.length === 1) {
      const { c, n } = matches[0]!
      logger.debug(`libvirt: no domain '${name}', using '${n}' (same name but for case)`)
      const dom = virt.lookupByName(c.conn, n)
      if (dom) return cidOf(c.uri, dom)
    }
    if (matches.length > 1) {
      const list = matches.map(({ c, n }) => (open.length > 1 ? `${n} (${c.uri})` : n)).join(', ')
      fail(
        `find libvirt domain '${name}'`,
        `when case is ignored, several domains have that name: ${list} (type one exactly: ssh keeps the case of qemu%NAME and qemu:system/NAME)`,
      )
    }
    return notFound(name, open, listed.flatMap((c) => c.names), failed)
  } finally {
    for (const c of open) virt.closeConnection(c.conn)
  }
}
