/**
 * authorized_keys as sshd(8) reads it ("AUTHORIZED_KEYS FILE FORMAT"): `[options] keytype base64
 * [comment]`. Options are parsed here into KeyOptions; what they allow is decided in policy.ts.
 * A line whose options sshd would reject (unknown name, bad value, a repeated `command=`), or that
 * carries an option burrow cannot honour (`cert-authority`, `principals=`), is
 * skipped with a log line rather than used without its restriction, as ssh2incus did.
 */

/** What the options of one key line say, after sshd's order rules (`restrict` then re-enables). */
export interface KeyOptions {
  portForwarding: boolean
  agentForwarding: boolean
  x11Forwarding: boolean
  pty: boolean
  /** `command=`: run this instead of what the client asked */
  command?: string
  /** `from=`: pattern-list the client address must match */
  from?: string[]
  /** `expiry-time=`: ms since the epoch after which the key is refused */
  expiresAt?: number
  /** `environment=` NAME=value, in file order; applied only with --permit-user-environment */
  environment: [string, string][]
  /** `permitopen=` host:port pairs (`*` = any); empty = no restriction */
  permitOpen: HostPort[]
  /** `permitlisten=` [host:]port pairs (host `*` when omitted); empty = no restriction */
  permitListen: HostPort[]
  /** a security key (sk-*) must report a touch; `no-touch-required` lifts it (not `restrict`) */
  touchRequired: boolean
  /** `verify-required`: a security key must report user verification (PIN, biometrics) */
  verifyRequired: boolean
}

export interface HostPort {
  host: string
  /** undefined = `*`, any port */
  port?: number
}

export interface AuthorizedKey {
  type: string
  /** the wire-format public key (decoded base64) */
  blob: Buffer
  /** `type base64`, for ssh2's parseKey */
  text: string
  options: KeyOptions
  /** where it came from, for logs: file:line */
  origin: string
}

const KEY_TYPE =
  /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/

/** Options that change nothing burrow does: it runs no ~/.ssh/rc, has no tun forwarding. */
const INERT = new Set(['no-user-rc', 'user-rc'])
const FLAGS: Record<string, [keyof KeyOptions, boolean]> = {
  'no-port-forwarding': ['portForwarding', false],
  'port-forwarding': ['portForwarding', true],
  'no-agent-forwarding': ['agentForwarding', false],
  'agent-forwarding': ['agentForwarding', true],
  'no-x11-forwarding': ['x11Forwarding', false],
  'x11-forwarding': ['x11Forwarding', true],
  'no-pty': ['pty', false],
  pty: ['pty', true],
  'no-touch-required': ['touchRequired', false],
  'verify-required': ['verifyRequired', true],
}
/** valued options that may appear once only (sshd: "multiple ... clauses") */
const ONCE = new Set(['command', 'from'])

export function defaultKeyOptions(): KeyOptions {
  return {
    portForwarding: true,
    agentForwarding: true,
    x11Forwarding: true,
    pty: true,
    environment: [],
    permitOpen: [],
    permitListen: [],
    touchRequired: true,
    verifyRequired: false,
  }
}

/**
 * Splits the options field at commas outside double quotes (`\"` is a quote inside); returns the
 * raw options and the rest of the line, or an error for an unterminated quote.
 */
export function splitOptions(line: string): [string[], string] | string {
  const opts: string[] = []
  let cur = ''
  let quoted = false
  let i = 0
  for (; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === '\\' && line[i + 1] === '"') {
        cur += '\\"'
        i++
      } else if (c === '"') {
        cur += c
        quoted = false
      } else cur += c
    } else if (c === '"') {
      cur += c
      quoted = true
    } else if (c === ',') {
      opts.push(cur)
      cur = ''
    } else if (c === ' ' || c === '\t') break
    else cur += c
  }
  if (quoted) return 'missing end quote'
  opts.push(cur)
  return [opts, line.slice(i).trim()]
}

/** `"value"` → value (with `\"` → `"`); an unquoted value is an error, as in sshd. */
function unquote(v: string): string | undefined {
  if (v.length < 2 || !v.startsWith('"') || !v.endsWith('"')) return undefined
  return v.slice(1, -1).replaceAll('\\"', '"')
}

/**
 * expiry-time's YYYYMMDD[HHMM[SS]][Z] → ms since the epoch; local time unless it ends in Z
 * (sshd's parse_absolute_time).
 */
export function parseExpiry(v: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z)?$/i.exec(v)
  if (!m) return undefined
  const [, y, mo, d, h = '0', mi = '0', s = '0', z] = m
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const
  const t = z ? Date.UTC(...parts) : new Date(...parts).getTime()
  // Date rolls 20250231 over into March: such a date is a typo, not a time
  const back = new Date(t)
  const day = z ? back.getUTCDate() : back.getDate()
  return Number.isFinite(t) && day === Number(d) && Number(mo) <= 12 ? t : undefined
}

/** `host:port`, `[v6]:port`, and for permitlisten a bare `port`; `*` for any host or port */
export function parseHostPort(v: string, bareIsPort: boolean): HostPort | undefined {
  let host: string
  let port: string
  const m = /^\[([^\]]+)\]:(.+)$/.exec(v)
  if (m) [host, port] = [m[1]!, m[2]!]
  else if (!v.includes(':')) {
    if (!bareIsPort) return undefined
    ;[host, port] = ['*', v]
  } else {
    const i = v.lastIndexOf(':')
    ;[host, port] = [v.slice(0, i), v.slice(i + 1)]
    if (host.includes(':')) return undefined
  }
  if (!host) return undefined
  if (port === '*') return { host }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535 || Number(port) < 1) return undefined
  return { host, port: Number(port) }
}

/** Applies one option to `o`; returns an error text, or undefined. */
function applyOption(o: KeyOptions, raw: string, seen: Set<string>): string | undefined {
  const eq = raw.indexOf('=')
  const name = (eq < 0 ? raw : raw.slice(0, eq)).toLowerCase()
  if (eq < 0) {
    if (name === 'restrict') {
      Object.assign(o, {
        portForwarding: false,
        agentForwarding: false,
        x11Forwarding: false,
        pty: false,
      })
      return undefined
    }
    const flag = FLAGS[name]
    if (flag) return void Object.assign(o, { [flag[0]]: flag[1] })
    if (INERT.has(name)) return undefined
    if (name === 'cert-authority') return `option '${name}' is not supported by burrow serve`
    return `unknown option '${name}'`
  }
  const value = unquote(raw.slice(eq + 1))
  if (value === undefined) return `option '${name}' needs a double-quoted value`
  if (ONCE.has(name) && seen.has(name)) return `more than one '${name}' option`
  seen.add(name)
  switch (name) {
    case 'command':
      o.command = value
      return undefined
    case 'from':
      o.from = value.split(',')
      return undefined
    case 'expiry-time': {
      const t = parseExpiry(value)
      if (t === undefined) return `bad expiry-time '${value}'`
      // several: the earliest wins (sshd)
      o.expiresAt = Math.min(o.expiresAt ?? t, t)
      return undefined
    }
    case 'environment': {
      const i = value.indexOf('=')
      if (i < 1 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value.slice(0, i)))
        return `bad environment '${value}'`
      o.environment.push([value.slice(0, i), value.slice(i + 1)])
      return undefined
    }
    case 'permitopen':
    case 'permitlisten': {
      const hp = parseHostPort(value, name === 'permitlisten')
      if (!hp) return `bad ${name} '${value}'`
      ;(name === 'permitopen' ? o.permitOpen : o.permitListen).push(hp)
      return undefined
    }
    case 'tunnel':
      // a restriction on tun forwarding, which burrow never offers
      return undefined
    case 'principals':
      return `option '${name}' is not supported by burrow serve`
  }
  return `unknown option '${name}'`
}

/** The options field of a key line → KeyOptions, or why sshd would reject the line. */
export function parseKeyOptions(options: string[]): KeyOptions | string {
  const o = defaultKeyOptions()
  const seen = new Set<string>()
  for (const raw of options) {
    const err = applyOption(o, raw, seen)
    if (err) return err
  }
  return o
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
    if (!KEY_TYPE.test(line.split(/\s+/)[0]!)) {
      const split = splitOptions(line)
      if (typeof split === 'string') return warn(`${where}: ${split}, key skipped`)
      ;[options, rest] = split
    }
    const [type, b64] = rest.split(/\s+/)
    if (!type || !b64 || !KEY_TYPE.test(type))
      return warn(`${where}: not a public key line, skipped`)
    const parsed = parseKeyOptions(options)
    if (typeof parsed === 'string') return warn(`${where}: ${parsed}, key skipped`)
    out.push({
      type,
      blob: Buffer.from(b64, 'base64'),
      text: `${type} ${b64}`,
      options: parsed,
      origin: where,
    })
  })
  return out
}

/** The entries whose key is `blob` (from= and expiry are policy.ts's to judge). */
export function findKeys(keys: AuthorizedKey[], blob: Buffer): AuthorizedKey[] {
  return keys.filter((k) => k.blob.equals(blob))
}
