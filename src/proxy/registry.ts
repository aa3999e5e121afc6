/**
 * The ordered backends, and everything derived from what they declare. Dispatch takes the first
 * that accepts a host; TCP comes last because it accepts any plain host name. A new address form
 * is one folder under backends/ and one line in `backends` below.
 */
import { afterPrefix, checkHostText } from '../core/address'
import { fail } from '../core/errors'
import type { OpenOptions, Stream } from '../core/stream'
import { closest } from '../core/suggest'
import { backend as incus } from '../backends/incus'
import { backend as libvirt } from '../backends/libvirt'
import { backend as machine } from '../backends/machine'
import { backend as mux } from '../backends/mux'
import { backend as tcp } from '../backends/tcp'
import { backend as unix } from '../backends/unix'
import { backend as vsock } from '../backends/vsock'
import type { AddressBase, Backend } from './backend'

export const backends = [unix, vsock, mux, machine, libvirt, incus, tcp] as const

/** Every form's address: the union of what the backends parse to. */
export type Address = NonNullable<ReturnType<(typeof backends)[number]['parse']>>
export type AddressKind = Address['kind']
export type AddressOf<K extends AddressKind> = Extract<Address, { kind: K }>

/**
 * A backend of any form: the registry is the one place that handles every form alike, and a
 * backend's methods take its own address only (parameters are contravariant), hence `any`.
 */
// biome-ignore lint/suspicious/noExplicitAny: see above
type AnyBackend = Backend<any>

const all: readonly AnyBackend[] = backends

function backendFor(addr: AddressBase): AnyBackend {
  const b = all.find((x) => x.kind === addr.kind)
  if (!b) throw new Error(`no backend for ${addr.kind}`)
  return b
}

/** `host` starts with one of `b`'s prefixes and a separator (core/address.ts afterPrefix). */
export function byPrefix(b: AnyBackend, host: string): boolean {
  return b.prefixes.some((p) => afterPrefix(host, p) !== undefined)
}

/** The backend whose prefix (with a separator) or whole name `host` uses; undefined for a TCP host. */
export function formOf(host: string): AnyBackend | undefined {
  return all.find((b) => b.names?.some((n) => n.name === host) || byPrefix(b, host))
}

/** Whole-host names that no prefix reaches (`.host`; not `machine/.host`). */
export function wholeNames(): string[] {
  return all.flatMap((b) => (b.names ?? []).filter((n) => !byPrefix(b, n.name)).map((n) => n.name))
}

export function parseAddress(host: string, port = '22'): Address {
  checkHostText(host)
  // `unix 22` is a form name without its separator, not a DNS name (systemd: "Don't know how to parse")
  const bare = all.find((b) => b.prefixes.includes(host.toLowerCase()))
  if (bare) {
    const what = bare.usage.slice(bare.usage.lastIndexOf('/') + 1)
    fail(
      `parse host specification '${host}'`,
      `the separator is missing (expected ${host}/${what} or ${host}%${what})`,
    )
  }
  for (const b of all) {
    const addr = b.parse(host, port) as Address | undefined
    if (addr) return addr
  }
  const forms = all.map((b) => b.usage).join(', ')
  const guess = suggestForm(host)
  fail(
    `parse host specification '${host}'`,
    `unknown form${guess ? ` (did you mean ${guess}?)` : ''}; use one of ${forms}`,
  )
}

/** Follows resolving backends until an address names something that can be opened directly. */
export async function resolveAddress(addr: Address): Promise<Address> {
  for (let hops = 0; hops < 8; hops++) {
    const b = backendFor(addr)
    if (!b.resolve) return addr
    addr = (await b.resolve(addr)) as Address
  }
  fail('resolve address', 'too many indirections')
}

/** The backend that owns `addr`'s form. */
export function backendOf(addr: Address): AnyBackend {
  return backendFor(addr)
}

export function formatAddress(addr: Address): string {
  return backendFor(addr).format(addr)
}

export async function openAddress(addr: Address, opts: OpenOptions = {}): Promise<Stream> {
  const final = await resolveAddress(addr)
  return backendFor(final).open(final, opts)
}

/** The forms as users write them, for help texts: `unix/PATH, vsock/CID, …, .host, or a TCP host`. */
export function formsHelp(): string {
  const forms = all.filter((b) => b.prefixes.length).map((b) => b.usage)
  return `${[...forms, ...wholeNames()].join(', ')}, or a TCP host; \`%\` may replace \`/\``
}

/** "did you mean" for a mistyped form prefix such as `vsok/3` or `unx%/run/x`. */
function suggestForm(host: string): string | undefined {
  const m = /^([A-Za-z:-]+)([/%])(.*)$/.exec(host)
  if (!m) return undefined
  const [, typed, sep, rest] = m as unknown as [string, string, string, string]
  const best = closest(
    typed.toLowerCase(),
    all.flatMap((b) => b.prefixes),
  )[0]
  return best === undefined ? undefined : `${best}${sep}${rest}`
}
