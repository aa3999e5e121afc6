/**
 * A read-only client of libvirt's remote program (src/remote/remote_protocol.x), limited to what
 * finding a domain's vsock CID needs: it speaks to the daemon's socket directly, as libvirt's remote
 * driver would, instead of loading libvirt.so.0 (~9 ms of dynamic linking for ~55 libraries).
 * Authentication: none and polkit (root bypasses polkit in the daemon); SASL is refused with advice.
 */
import { strerror } from '../../core/ffi/libc'
import { logger } from '../../core/log'
import {
  LibvirtError,
  RpcClient,
  VIR_ERR_NO_DOMAIN,
  VIR_ERR_NO_SUPPORT,
  VIR_ERR_RPC,
  VIR_ERR_SYSTEM_ERROR,
  VIR_FROM_RPC,
} from './rpc'
import { targetOf, type Target, UnsupportedUriError } from './uri'
import { XdrError, type XdrReader, type XdrWriter } from './xdr'

const REMOTE_PROGRAM = 0x20008086
const REMOTE_PROTOCOL_VERSION = 1
// enum remote_procedure
const REMOTE_PROC_CONNECT_OPEN = 1
const REMOTE_PROC_CONNECT_CLOSE = 2
const REMOTE_PROC_DOMAIN_GET_XML_DESC = 14
const REMOTE_PROC_DOMAIN_LOOKUP_BY_ID = 22
const REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME = 23
const REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID = 24
const REMOTE_PROC_AUTH_LIST = 66
const REMOTE_PROC_AUTH_POLKIT = 70
const REMOTE_PROC_DOMAIN_IS_ACTIVE = 150
const REMOTE_PROC_DOMAIN_GET_STATE = 212
const REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS = 273
// enum remote_auth_type
const REMOTE_AUTH_NONE = 0
const REMOTE_AUTH_SASL = 1
const REMOTE_AUTH_POLKIT = 2
const REMOTE_AUTH_TYPE_LIST_MAX = 20
/** REMOTE_STRING_MAX: 4 MiB since libvirt 1.x (64 KiB before) */
const REMOTE_STRING_MAX = 4194304
const REMOTE_DOMAIN_LIST_MAX = 16384
const VIR_UUID_BUFLEN = 16
const VIR_CONNECT_RO = 1
const VIR_ERR_INVALID_ARG = 8
const VIR_FROM_REMOTE = 13

/** struct remote_nonnull_domain: the daemon finds a domain again by its UUID. */
export interface Domain {
  name: string
  uuid: Uint8Array
  id: number
}

type Args = (w: XdrWriter) => void

const readString = (r: XdrReader) => r.string(REMOTE_STRING_MAX)
const readDomain = (r: XdrReader): Domain => ({
  name: readString(r),
  uuid: r.fixedOpaque(VIR_UUID_BUFLEN),
  id: r.i32(),
})
const writeDomain = (w: XdrWriter, d: Domain) =>
  w.string(d.name).fixedOpaque(d.uuid, VIR_UUID_BUFLEN).i32(d.id)

/** virUUIDParse: 32 hex digits, with '-' or spaces between them; undefined for anything else. */
export function parseUUID(text: string): Uint8Array | undefined {
  const hex = text.trim().replace(/[-\s]/g, '')
  if (!/^[0-9a-f]{32}$/i.test(hex)) return undefined
  return Uint8Array.from({ length: VIR_UUID_BUFLEN }, (_, i) =>
    parseInt(hex.slice(i * 2, i * 2 + 2), 16),
  )
}

/** The OS's words for a failed connect, as libvirt prints them (strerror, not libuv's lowercase). */
function connectReason(err: unknown): string {
  const errno = (err as { errno?: unknown }).errno
  if (typeof errno === 'number' && errno !== 0) return strerror(Math.abs(errno))
  return err instanceof Error ? err.message : String(err)
}

/** Every failure of a call as a LibvirtError, so lookup.ts can report it with its URI. */
function rpcError(call: string, err: unknown): LibvirtError {
  if (err instanceof LibvirtError) return err
  const why = err instanceof XdrError ? 'malformed reply from' : 'lost the connection to'
  const message = `${why} the libvirt daemon: ${err instanceof XdrError ? err.message : connectReason(err)}`
  return new LibvirtError(call, VIR_ERR_RPC, VIR_FROM_RPC, message)
}

export class Connection {
  private constructor(
    readonly uri: string,
    readonly target: Target,
    private readonly rpc: RpcClient,
  ) {}

  /** Like virConnectOpenReadOnly(uri): connect, authenticate, open the driver read-only. */
  static async openReadOnly(uri: string): Promise<Connection> {
    let target: Target
    try {
      target = targetOf(uri)
    } catch (err) {
      if (!(err instanceof UnsupportedUriError)) throw err
      throw new LibvirtError(
        'virConnectOpenReadOnly',
        VIR_ERR_INVALID_ARG,
        VIR_FROM_REMOTE,
        err.message,
      )
    }
    let rpc: RpcClient
    try {
      rpc = await RpcClient.connect(target.socket, REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION)
    } catch (err) {
      logger.debug(err)
      // virNetSocketNewConnectUNIX's wording; lookup.ts picks the socket and reason out of it
      const message = `Failed to connect socket to '${target.socket}': ${connectReason(err)}`
      throw new LibvirtError('virConnectOpenReadOnly', VIR_ERR_SYSTEM_ERROR, VIR_FROM_RPC, message)
    }
    const conn = new Connection(uri, target, rpc)
    try {
      await conn.authenticate()
      await conn.call(REMOTE_PROC_CONNECT_OPEN, 'virConnectOpenReadOnly', (w) =>
        w.optional(target.name, (x, name) => x.string(name)).u32(VIR_CONNECT_RO),
      )
    } catch (err) {
      rpc.close()
      throw err
    }
    logger.debug(`libvirt: ${uri}: opened '${target.name}' read-only through ${target.socket}`)
    return conn
  }

  private async call<T>(
    proc: number,
    name: string,
    args?: Args,
    read?: (r: XdrReader) => T,
  ): Promise<T> {
    try {
      const r = await this.rpc.call(proc, name, args)
      return read ? read(r) : (undefined as T)
    } catch (err) {
      throw rpcError(name, err)
    }
  }

  /** remoteAuthenticate without an `auth=` URI parameter: the first type the daemon lists. */
  private async authenticate(): Promise<void> {
    let types: number[] = []
    try {
      const read = (r: XdrReader) => r.array(REMOTE_AUTH_TYPE_LIST_MAX, (x) => x.i32())
      types = await this.call(REMOTE_PROC_AUTH_LIST, 'virConnectOpenReadOnly', undefined, read)
    } catch (err) {
      // a daemon older than the auth procedures (libvirt < 0.3) needs none
      if (!(err instanceof LibvirtError && err.code === VIR_ERR_NO_SUPPORT)) throw err
    }
    const type = types[0] ?? REMOTE_AUTH_NONE
    if (type === REMOTE_AUTH_NONE) return
    // the daemon asks polkit whether this uid may connect; it answers with an error if not
    if (type === REMOTE_AUTH_POLKIT)
      return this.call<void>(REMOTE_PROC_AUTH_POLKIT, 'virConnectOpenReadOnly')
    const what =
      type === REMOTE_AUTH_SASL
        ? `the daemon at ${this.target.socket} requires SASL authentication, which burrow does not support (set auth_unix_ro = "none" or "polkit" in libvirtd.conf, or in virtqemud.conf for the modular daemons)`
        : `the daemon at ${this.target.socket} asks for unsupported authentication type ${type}`
    throw new LibvirtError('virConnectOpenReadOnly', VIR_ERR_NO_SUPPORT, VIR_FROM_REMOTE, what)
  }

  /** undefined when the daemon says there is no such domain; other failures throw. */
  private async lookup(proc: number, name: string, args: Args): Promise<Domain | undefined> {
    try {
      return await this.call(proc, name, args, readDomain)
    } catch (err) {
      if (err instanceof LibvirtError && err.code === VIR_ERR_NO_DOMAIN) return undefined
      throw err
    }
  }

  lookupByName(name: string): Promise<Domain | undefined> {
    return this.lookup(REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, 'virDomainLookupByName', (w) =>
      w.string(name),
    )
  }

  lookupByUUID(uuid: Uint8Array): Promise<Domain | undefined> {
    const args: Args = (w) => w.fixedOpaque(uuid, VIR_UUID_BUFLEN)
    return this.lookup(REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID, 'virDomainLookupByUUID', args)
  }

  /** Only running domains have an ID. */
  lookupByID(id: number): Promise<Domain | undefined> {
    return this.lookup(REMOTE_PROC_DOMAIN_LOOKUP_BY_ID, 'virDomainLookupByID', (w) => w.i32(id))
  }

  /** The live XML when the domain runs, its persistent config otherwise (flags 0). */
  xmlDesc(dom: Domain): Promise<string> {
    const args: Args = (w) => writeDomain(w, dom).u32(0)
    return this.call(REMOTE_PROC_DOMAIN_GET_XML_DESC, 'virDomainGetXMLDesc', args, readString)
  }

  /** virDomainGetState: the virDomainState (VIR_DOMAIN_RUNNING = 1, …) and its reason. */
  state(dom: Domain): Promise<{ state: number; reason: number }> {
    const args: Args = (w) => writeDomain(w, dom).u32(0)
    const read = (r: XdrReader) => ({ state: r.i32(), reason: r.i32() })
    return this.call(REMOTE_PROC_DOMAIN_GET_STATE, 'virDomainGetState', args, read)
  }

  isActive(dom: Domain): Promise<boolean> {
    const args: Args = (w) => writeDomain(w, dom)
    return this.call(REMOTE_PROC_DOMAIN_IS_ACTIVE, 'virDomainIsActive', args, (r) => r.i32() === 1)
  }

  /** Names of all domains, running or not: one call, for matching names the user mistyped. */
  async domainNames(): Promise<string[]> {
    const args: Args = (w) => w.i32(1).u32(0) // need_results 1, flags 0: every domain
    const read = (r: XdrReader) => r.array(REMOTE_DOMAIN_LIST_MAX, readDomain)
    const doms = await this.call(
      REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS,
      'virConnectListAllDomains',
      args,
      read,
    )
    return doms.map((d) => d.name)
  }

  /** Like virConnectClose: tells the daemon, then hangs up; a failure here changes no result. */
  async close(): Promise<void> {
    try {
      await this.call(REMOTE_PROC_CONNECT_CLOSE, 'virConnectClose')
    } catch (err) {
      logger.debug(
        `libvirt: ${this.uri}: close: ${err instanceof Error ? err.message : String(err)}`,
      )
    } finally {
      this.rpc.close()
    }
  }
}
