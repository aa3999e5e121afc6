/**
 * Destinations as the config writes them: `host`, `host:port`, `[v6]:port`, nodesets such as
 * `node[1-4]` or `n[01-03,7]:2222` (clustershell's bracket syntax), and burrow addresses
 * (`unix/run/vm.sock`, `vsock/4711`, `vsock-mux/run/fc.sock:2222`) that ssh reaches through
 * `burrow proxy`. Each becomes one Dest whose `id` is its key in the state store.
 */
import { formatAddress, formOf, parseAddress } from '../proxy/registry'

export interface Dest {
  /** canonical `host:port` (TCP) or burrow address (+ `:port` when not 22); the state key */
  id: string
  /** what ssh is given as HOST */
  host: string
  port: number
  /** the burrow address for `burrow proxy`, when this is not a plain TCP host */
  address?: string
}

/** Most destinations one config may name, after expanding every nodeset. */
export const MAX_DESTS = 10_000

/** How many names `text` expands to, counted without expanding (each group multiplies). */
export function nodesetSize(text: string): number {
  let n = 1
  for (const m of text.matchAll(/\[([^\]]*)\]/g)) {
    let group = 0
    for (const part of m[1]!.split(',')) {
      const r = /^\s*([0-9]+)(?:-([0-9]+))?\s*$/.exec(part)
      group += r ? Math.max(0, Number(r[2] ?? r[1]) - Number(r[1]) + 1) : 1
    }
    n *= Math.max(1, group)
    if (n > Number.MAX_SAFE_INTEGER) return Infinity
  }
  return n
}

/** Expands every `[a-b,c]` group; zero padding follows the range's first bound (`01-10`). */
export function expandNodeset(text: string, limit = MAX_DESTS): string[] {
  const size = nodesetSize(text)
  if (size > limit)
    throw new Error(
      `'${text}' expands to ${size.toLocaleString('en')} destinations, over the limit of ${MAX_DESTS.toLocaleString('en')} for a whole config`,
    )
  return expandGroups(text)
}

function expandGroups(text: string): string[] {
  const m = /\[([^\]]*)\]/.exec(text)
  if (!m) {
    if (/[[\]]/.test(text)) throw new Error(`unbalanced brackets in '${text}'`)
    return [text]
  }
  const head = text.slice(0, m.index)
  const tail = text.slice(m.index + m[0].length)
  if (/[[\]]/.test(head)) throw new Error(`unbalanced brackets in '${text}'`)
  const items: string[] = []
  for (const part of m[1]!.split(',')) {
    const r = /^([0-9]+)(?:-([0-9]+))?$/.exec(part.trim())
    if (!r) throw new Error(`'${part}' in '${text}' is not a number or range such as 1-4`)
    const [lo, hi = lo] = [r[1]!, r[2]]
    const from = Number(lo)
    const to = Number(hi)
    if (to < from) throw new Error(`range ${part} in '${text}' runs backwards`)
    const width = lo.length > 1 && lo.startsWith('0') ? lo.length : 0
    for (let n = from; n <= to; n++) items.push(String(n).padStart(width, '0'))
  }
  return items.flatMap((item) => expandGroups(`${head}${item}${tail}`))
}

/** `<word>/…` or `<word>%…` of no known form: parseAddress then explains what is wrong */
const PREFIXED = /^[a-z][a-z0-9:-]*[/%]/

/** One entry without brackets → Dest; throws a plain Error with the reason. */
export function parseDest(entry: string): Dest {
  if (entry === '' || /\s/.test(entry)) throw new Error(`'${entry}' is not a host name`)
  if (formOf(entry) || PREFIXED.test(entry)) return burrowDest(entry)
  let host = entry
  let port = 22
  const v6 = /^\[([^\]]+)\](?::([0-9]+))?$/.exec(entry)
  if (v6) {
    host = v6[1]!
    if (v6[2] !== undefined) port = portOf(v6[2], entry)
  } else {
    const i = entry.lastIndexOf(':')
    if (i >= 0 && entry.indexOf(':') === i) {
      host = entry.slice(0, i)
      port = portOf(entry.slice(i + 1), entry)
    }
  }
  const ok = v6
    ? /^[0-9A-Fa-f:.]+$/.test(host)
    : /^[A-Za-z0-9_]([A-Za-z0-9_.:-]*[A-Za-z0-9_.])?$/.test(host)
  if (!ok) {
    throw new Error(`'${entry}' is not a host name, host:port or burrow address`)
  }
  const id = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  return { id, host, port }
}

function portOf(text: string, entry: string): number {
  const port = Number(text)
  if (!/^[0-9]{1,5}$/.test(text) || port < 1 || port > 65535)
    throw new Error(`'${entry}' has a bad port '${text}'`)
  return port
}

/**
 * Forms that declare `portSuffix` (vsock, vsock-mux: a CID never contains `:`) take `ADDRESS:PORT`;
 * the others keep 22. The state key is the address as its backend formats it.
 */
function burrowDest(entry: string): Dest {
  let spec = entry
  let port = 22
  const m = /^(.*):([0-9]{1,10})$/.exec(entry)
  if (m && formOf(m[1]!)?.portSuffix) {
    spec = m[1]!
    port = Number(m[2])
  }
  let canonical: string
  try {
    const addr = parseAddress(spec, String(port))
    if (addr.kind === 'tcp') throw new Error('not a burrow address')
    const text = formatAddress(addr)
    canonical = text.slice(0, text.lastIndexOf(' '))
  } catch (err) {
    throw new Error(
      `'${entry}': ${err instanceof Error ? err.message.replace(/^Failed to /, 'cannot ') : err}`,
    )
  }
  return {
    id: port === 22 ? canonical : `${canonical}:${port}`,
    host: canonical,
    port,
    address: canonical,
  }
}

/** All destinations of a `dest` list, in order, duplicates dropped. */
export function expandDests(entries: readonly string[]): Dest[] {
  const seen = new Set<string>()
  const out: Dest[] = []
  let total = 0
  for (const entry of entries) {
    // `[v6]:port` uses brackets too, but never for a nodeset
    const ones = /^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$/.test(entry)
      ? [entry]
      : expandNodeset(entry, MAX_DESTS - total)
    total += ones.length
    for (const one of ones) {
      const d = parseDest(one)
      if (!seen.has(d.id)) {
        seen.add(d.id)
        out.push(d)
      }
    }
  }
  return out
}
