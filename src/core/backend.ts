/**
 * The Backend contract: each address form parses its own host strings and opens its addresses
 * into connected streams. Resolving forms (libvirt, incus lookups) produce another form's address.
 */
import type { Address, AddressKind, AddressOf } from './address'
import * as libc from './ffi/libc'

export interface OpenOptions {
  /** give up connecting (and any handshake) after this long; undefined waits as long as the kernel does */
  timeoutMs?: number
}

/** A connected byte stream. Socket-backed streams expose their fd, so proxy can hand it to ssh. */
export interface Stream {
  readonly fd: number
  /** may be async when closing also removes something the stream needed (an Incus device) */
  close(): void | Promise<void>
  /**
   * The stream depends on state that this process must remove when it ends (an Incus proxy
   * device): relay instead of handing the fd to ssh and exiting.
   */
  readonly relayOnly?: boolean
}

export class FdStream implements Stream {
  constructor(readonly fd: number) {}
  close(): void {
    libc.close(this.fd)
  }
}

export interface Backend<K extends AddressKind = AddressKind> {
  /** the address form this backend owns; also its folder name */
  readonly kind: K
  /** the prefixes it claims before a `/` or `%` separator (none for plain TCP hosts) */
  readonly prefixes: readonly string[]
  /** how users write it, for help and error messages */
  readonly usage: string
  /** The Address for `host` and ssh's `%p`, undefined when `host` is not this form ("not mine"). */
  parse(host: string, port: string): AddressOf<K> | undefined
  /** `host port` in burrow's grammar, as `proxy --resolve` prints it */
  format(addr: AddressOf<K>): string
  /** Another backend's address when this form is only a name for one (libvirt → vsock). */
  resolve?(addr: AddressOf<K>): Promise<Address>
  open(addr: AddressOf<K>, opts: OpenOptions): Promise<Stream>
  /** its streams are always relayOnly (see Stream), known before opening */
  readonly relayOnly?: boolean
}
