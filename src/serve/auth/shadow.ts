/**
 * Password check against the host's /etc/shadow with the system's crypt(3), as sshd does without
 * PAM: locked (`!`), disabled (`*`), empty and expired accounts never match.
 */
import { readFileSync } from 'node:fs'
import { timingSafeEqual } from 'node:crypto'
import { logger } from '../../core/log'
import { accountRefusal } from '../policy'

export interface ShadowEntry {
  name: string
  hash: string
  /** account expiry, days since the epoch; undefined = never */
  expire?: number
}

export function parseShadow(text: string, name: string): ShadowEntry | undefined {
  for (const line of text.split('\n')) {
    const f = line.split(':')
    if (f[0] !== name || f.length < 2) continue
    return { name, hash: f[1]!, expire: f[7] ? Number(f[7]) : undefined }
  }
  return undefined
}

/** Why the entry can never match a password, or undefined when it may. */
export function unusable(e: ShadowEntry, now = Date.now()): string | undefined {
  if (e.hash === '') return 'empty password'
  if (e.hash.startsWith('!') || e.hash.startsWith('*')) return 'account locked or without password'
  // a real crypt hash is `$id$...` or 13 chars of DES; shorter strings are placeholders
  if (e.hash.length < 13) return 'no usable hash'
  // the same expiry rule as for every login method (policy.ts), for the instance's shadow too
  if (
    e.expire !== undefined &&
    Number.isFinite(e.expire) &&
    accountRefusal(e.name, { locked: false, expireDay: e.expire }, now)
  )
    return 'account expired'
  return undefined
}

export async function checkPassword(
  name: string,
  password: string,
  path = '/etc/shadow',
): Promise<boolean> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    logger.warn(`password auth: cannot read ${path}: ${(err as Error).message}`)
    return false
  }
  return checkShadowText(text, name, password)
}

/** `password` against `name`'s entry in the shadow file content `text` (host or instance). */
export async function checkShadowText(
  text: string,
  name: string,
  password: string,
): Promise<boolean> {
  const entry = parseShadow(text, name)
  const why = entry ? unusable(entry) : 'no shadow entry'
  if (why || !entry) {
    logger.debug(`password auth for ${name}: ${why}`)
    return false
  }
  const { crypt } = await import('../../core/ffi/crypt')
  const got = crypt(password, entry.hash)
  if (!got || got.length !== entry.hash.length) return false
  return timingSafeEqual(Buffer.from(got), Buffer.from(entry.hash))
}
