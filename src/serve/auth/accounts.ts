/**
 * Host accounts: who a login's host user is and whether that user may use Incus. Read from
 * /etc/passwd and /etc/group; `getent` is asked only when nsswitch.conf names other sources (LDAP,
 * sssd), so unknown names from unauthenticated clients never spawn processes on a files-only host.
 */
import { readFileSync } from 'node:fs'
import { logger } from '../../core/log'

export interface Account {
  name: string
  uid: number
  gid: number
  home: string
  shell: string
  /** every group id, primary first, supplementary after */
  gids: number[]
}

export interface AccountFiles {
  passwd?: string
  group?: string
  shadow?: string
  nsswitch?: string
}

const DEFAULT_FILES = {
  passwd: '/etc/passwd',
  group: '/etc/group',
  shadow: '/etc/shadow',
  nsswitch: '/etc/nsswitch.conf',
}

/** What the shadow entry says about the account itself (not its password): policy.ts judges. */
export interface AccountStatus {
  /** the password field starts with `!` (usermod -L, passwd -l) */
  locked: boolean
  /** shadow field 8, days since the epoch; undefined = never expires */
  expireDay?: number
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    logger.debug(`read ${path}: ${(err as Error).message}`)
    return ''
  }
}

/** name:x:uid:gid:gecos:home:shell → Account without supplementary groups */
export function parsePasswdLine(line: string): Omit<Account, 'gids'> | undefined {
  const f = line.split(':')
  if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) return undefined
  return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! }
}

/** group lines as [name, gid, members] */
export function parseGroups(text: string): { name: string; gid: number; members: string[] }[] {
  const out = []
  for (const line of text.split('\n')) {
    const f = line.split(':')
    if (f.length < 4 || !/^\d+$/.test(f[2]!)) continue
    out.push({ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').filter(Boolean) })
  }
  return out
}

function usesOtherSources(nsswitch: string, db: 'passwd' | 'group' | 'shadow'): boolean {
  const line = nsswitch.split('\n').find((l) => l.trimStart().startsWith(`${db}:`))
  if (!line) return false
  return line
    .slice(line.indexOf(':') + 1)
    .replace(/#.*/, '')
    .split(/\s+/)
    .some((s) => s && !s.startsWith('[') && s !== 'files' && s !== 'compat' && s !== 'systemd')
}

function getent(db: string, key: string): string {
  const p = Bun.spawnSync(['getent', db, key], { stdin: 'ignore', stderr: 'ignore' })
  return p.exitCode === 0 ? p.stdout.toString().trim() : ''
}

export function lookupAccount(name: string, files: AccountFiles = {}): Account | undefined {
  const f = { ...DEFAULT_FILES, ...files }
  const nss = read(f.nsswitch)
  let entry = read(f.passwd)
    .split('\n')
    .map(parsePasswdLine)
    .find((a) => a?.name === name)
  if (!entry && usesOtherSources(nss, 'passwd')) entry = parsePasswdLine(getent('passwd', name))
  if (!entry) return undefined
  const gids = [entry.gid]
  for (const g of parseGroups(read(f.group))) {
    if (g.members.includes(name) && !gids.includes(g.gid)) gids.push(g.gid)
  }
  if (usesOtherSources(nss, 'group')) {
    // `getent initgroups` is glibc's view of every group the user is in, whatever the source
    for (const gid of getent('initgroups', name).split(/\s+/).slice(1).map(Number)) {
      if (Number.isInteger(gid) && !gids.includes(gid)) gids.push(gid)
    }
  }
  return { ...entry, gids }
}

/** gids of the named groups that exist; unknown names are skipped (a host may lack incus-admin). */
export function groupIds(names: string[], files: AccountFiles = {}): Set<number> {
  const groups = parseGroups(read(files.group ?? DEFAULT_FILES.group))
  const out = new Set<number>()
  for (const n of names) {
    const g = groups.find((x) => x.name === n) ?? (/^\d+$/.test(n) ? { gid: Number(n) } : undefined)
    if (g) out.add(g.gid)
  }
  return out
}

/** Root always may; everyone else needs one of `allowed` among all their groups. */
export function mayUseIncus(account: Account, allowed: Set<number>): boolean {
  return account.uid === 0 || account.gids.some((g) => allowed.has(g))
}

/** name:password:lastchg:min:max:warn:inactive:expire:reserved → AccountStatus */
export function parseShadowStatus(line: string): AccountStatus | undefined {
  const f = line.split(':')
  if (f.length < 8) return undefined
  const expire = f[7]!.trim()
  return {
    locked: f[1]!.startsWith('!'),
    expireDay: /^\d+$/.test(expire) ? Number(expire) : undefined,
  }
}

/**
 * The account's shadow status. No entry (or no readable shadow database) reads as unlocked and
 * not expiring, as sshd does when getspnam() finds nothing.
 */
export function accountStatus(name: string, files: AccountFiles = {}): AccountStatus {
  const f = { ...DEFAULT_FILES, ...files }
  let line = read(f.shadow)
    .split('\n')
    .find((l) => l.startsWith(`${name}:`))
  if (!line && usesOtherSources(read(f.nsswitch), 'shadow')) line = getent('shadow', name)
  return (line && parseShadowStatus(line)) || { locked: false }
}
