/**
 * sshd's address patterns: `from="…"` lists (globs and CIDR blocks, `!` negates) and the
 * ssh_config(5) glob that `permitopen`/`permitlisten` hosts use. Nothing here resolves a name.
 */
import { isIP } from 'node:net'

/**
 * sshd's from="pattern-list" against an address: `*`/`?` globs and CIDR blocks, `!` negates and
 * wins. Host names are never resolved (as with UseDNS no).
 */
export function matchFrom(patterns: string[], ip: string): boolean {
  const addr = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '')
  let ok = false
  for (const raw of patterns) {
    const neg = raw.startsWith('!')
    const p = neg ? raw.slice(1) : raw
    if (!matchOne(p, addr)) continue
    if (neg) return false
    ok = true
  }
  return ok
}

/** ssh_config(5) PATTERNS: `*` and `?` globs, case-insensitive */
export function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  )
  return re.test(text)
}

function matchOne(pattern: string, addr: string): boolean {
  if (pattern.includes('/')) return inCidr(pattern, addr)
  return globMatch(pattern, addr)
}

function inCidr(cidr: string, addr: string): boolean {
  const [net, bitsText] = cidr.split('/')
  const bits = Number(bitsText)
  const a = toBytes(addr)
  const n = toBytes(net!)
  if (
    !a ||
    !n ||
    a.length !== n.length ||
    !Number.isInteger(bits) ||
    bits < 0 ||
    bits > a.length * 8
  )
    return false
  for (let i = 0; i < bits; i++) {
    const mask = 0x80 >> (i % 8)
    if ((a[i >> 3]! & mask) !== (n[i >> 3]! & mask)) return false
  }
  return true
}

function toBytes(ip: string): number[] | undefined {
  const v = isIP(ip)
  if (v === 4) return ip.split('.').map(Number)
  if (v !== 6) return undefined
  const [head, tail] = ip.split('::') as [string, string | undefined]
  const parse = (s: string | undefined) =>
    s ? s.split(':').map((h) => Number.parseInt(h, 16)) : []
  const h = parse(head)
  const t = parse(tail)
  const words = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill(0), ...t]
  return words.flatMap((w) => [w >> 8, w & 0xff])
}
