/**
 * authorized_keys as sshd(8) reads it ("AUTHORIZED_KEYS FILE FORMAT"): `[options] keytype base64
 * [comment]`. burrow honours `from=`, `restrict`, `no-pty`/`pty`; a key carrying an option it
 * cannot honour (`command=`, `cert-authority`, `principals=`, …) is skipped with a log line
 * rather than silently used without its restriction, as ssh2incus did.
 */
import { isIP } from 'node:net'

export interface AuthorizedKey {
  type: string
  /** the wire-format public key (decoded base64) */
  blob: Buffer
  /** `type base64`, for ssh2's parseKey */
  text: string
  from?: string[]
  noPty: boolean
  /** where it came from, for logs: file:line */
  origin: string
}

const KEY_TYPE =
  /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/
const HARMLESS = new Set([
  'no-port-forwarding',
  'no-agent-forwarding',
  'no-x11-forwarding',
  'no-user-rc',
  'port-forwarding',
  'agent-forwarding',
  'x11-forwarding',
  'user-rc',
  'no-touch-required',
  'verify-required',
])

/** Splits the options field at commas outside double quotes; returns it and the rest of the line. */
function splitOptions(line: string): [string[], string] {
  const opts: string[] = []
  let cur = ''
  let quoted = false
  let i = 0
  for (; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === '\\' && line[i + 1] === '"') {
        cur += '"'
        i++
      } else if (c === '"') quoted = false
      else cur += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      opts.push(cur)
      cur = ''
    } else if (c === ' ' || c === '\t') break
    else cur += c
  }
  opts.push(cur)
  return [opts, line.slice(i).trim()]
}

export function parseAuthorizedKeys(
  text: string,
  origin: string,
  warn: (msg: string) => void = () => {},
): AuthorizedKey[] {
  const out: AuthorizedKey[] = []
  text.split('\n').forEach((raw, idx) => {
    const line = raw.trim()
    if (!line || line.startsWith('#')) return
    const where = `${origin}:${idx + 1}`
    let options: string[] = []
    let rest = line
    if (!KEY_TYPE.test(line.split(/\s+/)[0]!)) [options, rest] = splitOptions(line)
    const [type, b64] = rest.split(/\s+/)
    if (!type || !b64 || !KEY_TYPE.test(type))
      return warn(`${where}: not a public key line, skipped`)
    const key: AuthorizedKey = {
      type,
      blob: Buffer.from(b64, 'base64'),
      text: `${type} ${b64}`,
      noPty: false,
      origin: where,
    }
    for (const opt of options) {
      const eq = opt.indexOf('=')
      const name = (eq < 0 ? opt : opt.slice(0, eq)).toLowerCase()
      const value = eq < 0 ? '' : opt.slice(eq + 1)
      if (name === 'from') key.from = value.split(',')
      else if (name === 'restrict' || name === 'no-pty') key.noPty = true
      else if (name === 'pty') key.noPty = false
      else if (!HARMLESS.has(name))
        return warn(`${where}: option '${name}' is not supported by burrow serve, key skipped`)
    }
    out.push(key)
  })
  return out
}

/** The entry whose key is `blob`, allowed from `ip`. */
export function findKey(
  keys: AuthorizedKey[],
  blob: Buffer,
  ip: string,
): AuthorizedKey | undefined {
  return keys.find((k) => k.blob.equals(blob) && (!k.from || matchFrom(k.from, ip)))
}

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

function matchOne(pattern: string, addr: string): boolean {
  if (pattern.includes('/')) return inCidr(pattern, addr)
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  )
  return re.test(addr)
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
