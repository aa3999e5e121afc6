/**
 * Typed wrappers around libvirt's C library (libvirt.so.0), read-only. burrow talks to libvirt the
 * way virsh does rather than parsing virsh's text (meant for people, and a process per call) or
 * speaking libvirt's RPC protocol itself (a second client for its XDR wire format, auth and URI
 * rules): the library picks the daemon socket (libvirtd or virtqemud), authenticates, and words
 * its errors exactly as virsh would. Every object returned here must be freed by the caller in a
 * `finally`; returned strings are copied and freed at once.
 */
import { fail } from '../errors'
import { logger } from '../log'
import { cstring, libc, libvirt, type Pointer, readPtr } from './native'

/** virErrorNumber values burrow reacts to (libvirt/virterror.h) */
export const VIR_ERR_INTERNAL_ERROR = 1
export const VIR_ERR_SYSTEM_ERROR = 38
export const VIR_ERR_NO_DOMAIN = 42
export const VIR_ERR_AUTH_FAILED = 45
export const VIR_ERR_AUTH_CANCELLED = 79
export const VIR_ERR_ACCESS_DENIED = 88
export const VIR_ERR_AUTH_UNAVAILABLE = 94
/** virErrorDomain values: where a failed authorization comes from */
export const VIR_FROM_DBUS = 47
export const VIR_FROM_POLKIT = 60

/** A failed libvirt call: virGetLastError's code, domain and message. Wrapped by the caller. */
export class LibvirtError extends Error {
  override name = 'LibvirtError'
  constructor(
    readonly call: string,
    readonly code: number,
    readonly domain: number,
    message: string,
  ) {
    super(message)
  }
}

function lib() {
  try {
    return libvirt()
  } catch (err) {
    logger.debug(err)
    fail(
      'load libvirt.so.0',
      'the libvirt client library is missing or broken (Debian/Ubuntu: apt-get install libvirt-clients, which brings libvirt0; Fedora: dnf install libvirt-libs)',
    )
  }
}

/** Read at once after the failing call: the next libvirt call resets it. */
function lastError(call: string): LibvirtError {
  const s = lib()
  const message = cstring(s.virGetLastErrorMessage() as Pointer | null) ?? 'unknown error'
  return new LibvirtError(call, s.virGetLastErrorCode(), s.virGetLastErrorDomain(), message)
}

const cstr = (s: string) => Buffer.from(`${s}\0`)

export function openReadOnly(uri: string): Pointer {
  const name = cstr(uri)
  const conn = lib().virConnectOpenReadOnly(name) as Pointer | null
  if (!conn) throw lastError('virConnectOpenReadOnly')
  return conn
}

export function closeConnection(conn: Pointer): void {
  lib().virConnectClose(conn)
}

/** The domain, or undefined when libvirt says there is no such domain; other failures throw. */
function found(call: string, dom: Pointer | null): Pointer | undefined {
  if (dom) return dom
  const err = lastError(call)
  if (err.code === VIR_ERR_NO_DOMAIN) return undefined
  throw err
}

export function lookupByName(conn: Pointer, name: string): Pointer | undefined {
  const text = cstr(name)
  return found('virDomainLookupByName', lib().virDomainLookupByName(conn, text) as Pointer | null)
}

export function lookupByUUIDString(conn: Pointer, uuid: string): Pointer | undefined {
  const text = cstr(uuid)
  return found('virDomainLookupByUUIDString', lib().virDomainLookupByUUIDString(conn, text) as Pointer | null)
}

/** Only running domains have an ID. */
export function lookupByID(conn: Pointer, id: number): Pointer | undefined {
  return found('virDomainLookupByID', lib().virDomainLookupByID(conn, id) as Pointer | null)
}

export function freeDomain(dom: Pointer): void {
  lib().virDomainFree(dom)
}

export function domainName(dom: Pointer): string {
  // owned by the domain object: not freed here
  return cstring(lib().virDomainGetName(dom) as Pointer | null) ?? ''
}

/** The live XML when the domain runs, its persistent config otherwise (flags 0). */
export function domainXML(dom: Pointer): string {
  const xml = lib().virDomainGetXMLDesc(dom, 0) as Pointer | null
  if (!xml) throw lastError('virDomainGetXMLDesc')
  try {
    return cstring(xml)!
  } finally {
    libc().free(xml)
  }
}

export function isActive(dom: Pointer): boolean {
  const rc = lib().virDomainIsActive(dom)
  if (rc < 0) throw lastError('virDomainIsActive')
  return rc === 1
}

/** Names of all domains, running or not: one RPC, for matching names the user mistyped. */
export function domainNames(conn: Pointer): string[] {
  const out = new BigUint64Array(1) // virDomainPtr **domains; pointers are 64-bit wherever burrow runs
  const count = lib().virConnectListAllDomains(conn, out, 0)
  if (count < 0) throw lastError('virConnectListAllDomains')
  const list = Number(out[0]) as Pointer
  const doms = Array.from({ length: count }, (_, i) => readPtr(list, i * 8)!)
  try {
    return doms.map(domainName)
  } finally {
    doms.forEach(freeDomain)
    libc().free(list)
  }
}
