/**
 * The ordered list of backends. Dispatch takes the first that accepts a host; TCP comes last
 * because it accepts any plain host name.
 */
import type { Address } from './address'
import { checkHostText } from './address'
import type { Backend, OpenOptions, Stream } from './backend'
import { fail } from './errors'
import { closest } from './suggest'
import { backend as unix } from '../backends/unix'
import { backend as vsock } from '../backends/vsock'
import { backend as mux } from '../backends/mux'
import { backend as machine } from '../backends/machine'
import { backend as libvirt } from '../backends/libvirt'
// the grammar only: the Incus client is a separate entrypoint (backends/incus/open.ts)
import { backend as incus } from '../backends/incus/backend'
import { backend as tcp } from '../backends/tcp'

export const backends: readonly Backend<any>[] = [mux, vsock, unix, machine, libvirt, incus, tcp]

function backendFor(addr: Address): Backend<any> {
  const b = backends.find((x) => x.kind === addr.kind)
  if (!b) throw new Error(`no backend for ${addr.kind}`)
  return b
}

export function parseAddress(host: string, port = '22'): Address {
  checkHostText(host)
  // `unix 22` is a form name without its separator, not a DNS name (systemd: "Don't know how to parse")
  const bare = backends.find((b) => b.prefixes.includes(host.toLowerCase()))
  if (bare) {
    const what = bare.usage.slice(bare.usage.lastIndexOf('/') + 1)
    fail(`parse host specification '${host}'`, `the separator is missing (expected ${host}/${what} or ${host}%${what})`)
  }
  for (const b of backends) {
    const addr = b.parse(host, port)
    if (addr) return addr
  }
  const forms = backends.map((b) => b.usage).join(', ')
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
    addr = await b.resolve(addr)
  }
  fail('resolve address', 'too many indirections')
}

/** The backend that owns `addr`'s form. */
export function backendOf(addr: Address): Backend<any> {
  return backendFor(addr)
}

export function formatAddress(addr: Address): string {
  return backendFor(addr).format(addr)
}

export async function openAddress(addr: Address, opts: OpenOptions = {}): Promise<Stream> {
  const final = await resolveAddress(addr)
  return backendFor(final).open(final, opts)
}

/** "did you mean" for a mistyped form prefix such as `vsok/3` or `unx%/run/x`. */
function suggestForm(host: string): string | undefined {
  const m = /^([A-Za-z:-]+)([/%])(.*)$/.exec(host)
  if (!m) return undefined
  const [, typed, sep, rest] = m as unknown as [string, string, string, string]
  const best = closest(typed.toLowerCase(), backends.flatMap((b) => b.prefixes))[0]
  return best === undefined ? undefined : `${best}${sep}${rest}`
}
