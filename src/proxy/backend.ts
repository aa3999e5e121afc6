/**
 * The Backend contract: each address form parses its own host strings and opens its addresses
 * into connected streams, and declares what the rest of burrow derives from it (the ssh_config
 * drop-in's patterns and host-key policy, route's destinations, --help, the README's tables).
 * Resolving forms (libvirt, machine) produce another form's address. Types only: backends import
 * it with `import type`, the one arrow allowed upward (.dependency-cruiser.cjs).
 */
import type { OpenOptions, Stream } from '../core/stream'

export type { OpenOptions, Stream } from '../core/stream'

/** What every form's address has: its form's `kind` and the port ssh asked for. */
export interface AddressBase {
  readonly kind: string
  readonly port: number
}

/**
 * How ssh treats the host keys of a form (install-config): `check` is OpenSSH's default
 * (recorded and checked); `throwaway` records none, for VMs and containers that reuse a CID,
 * socket path or name with fresh keys.
 */
export type HostKeyPolicy = 'check' | 'throwaway'

/** What the port means: ignored (a socket path is the whole address), a vsock port, a TCP port. */
export type PortRule = 'ignored' | 'vsock' | 'tcp'

export interface Backend<A extends AddressBase = AddressBase> {
  /** the address form this backend owns */
  readonly kind: A['kind']
  /** the prefixes it claims before a `/` or `%` separator (none for plain TCP hosts) */
  readonly prefixes: readonly string[]
  /** whole host names that belong to this form too, each with its own host-key policy (`.host`) */
  readonly names?: readonly { readonly name: string; readonly hostKeys: HostKeyPolicy }[]
  /** how users write it, for help and error messages */
  readonly usage: string
  /** its host-key policy in the drop-in; undefined: the drop-in does not proxy it (TCP) */
  readonly hostKeys?: HostKeyPolicy
  readonly port: PortRule
  /**
   * route.yaml may write `ADDRESS:PORT`: only where a `:` can never be part of the address itself
   * (a CID; a socket path that the grammar keeps whole otherwise)
   */
  readonly portSuffix: boolean
  /** The Address for `host` and ssh's `%p`, undefined when `host` is not this form ("not mine"). */
  parse(host: string, port: string): A | undefined
  /** `host port` in burrow's grammar, as `proxy --resolve` prints it */
  format(addr: A): string
  /** Another backend's address when this form is only a name for one (libvirt → vsock). */
  resolve?(addr: A): Promise<AddressBase>
  open(addr: A, opts: OpenOptions): Promise<Stream>
  /** its streams are always relayOnly (see Stream), known before opening */
  readonly relayOnly?: boolean
}
