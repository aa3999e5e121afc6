/**
 * Fail-safe for the embedded store: a damaged file (empty, truncated, bad header, failing
 * SQLite's quick_check) is detected before use, moved aside with its WAL, and reported once;
 * what admins set (disabled hosts, the banner) is read back from a small copy kept beside the
 * store after every admin change and, where SQLite can still read it, from the damaged file.
 */
import { Database } from 'bun:sqlite'
import {
  closeSync,
  copyFileSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'

/** The SQLite file header (https://www.sqlite.org/fileformat2.html#the_database_header). */
const MAGIC = Buffer.from('SQLite format 3\0', 'latin1')
const HEADER = 100

/** What admins decided, which must survive a damaged store. */
export interface Kept {
  disabled: string[]
  banner?: { text: string; expire: number | null }
}

export const keptPath = (path: string) => `${path}.kept.json`

/** Why the file at `path` cannot be used as it is, or undefined when it looks whole. */
export function damage(path: string): string | undefined {
  if (!existsSync(path)) return undefined
  const size = statSync(path).size
  if (size === 0) return 'it is empty'
  const head = Buffer.alloc(HEADER)
  const fd = openSync(path, 'r')
  try {
    readSync(fd, head, 0, HEADER, 0)
  } finally {
    closeSync(fd)
  }
  if (size < HEADER || !head.subarray(0, 16).equals(MAGIC))
    return 'it does not start with the SQLite header'
  const pageSize = head.readUInt16BE(16) === 1 ? 65536 : head.readUInt16BE(16)
  // the in-header page count is valid when "version-valid-for" equals the change counter
  const pages = head.readUInt32BE(24) === head.readUInt32BE(92) ? head.readUInt32BE(28) : 0
  if (pages > 0 && size < pages * pageSize)
    return `it is truncated (${size} of ${pages * pageSize} bytes)`
  try {
    const db = new Database(path, { readonly: true })
    try {
      db.exec('PRAGMA busy_timeout = 5000')
      const r = db.query<{ quick_check: string }, []>('PRAGMA quick_check').get()
      if (r?.quick_check !== 'ok')
        return `SQLite's quick_check says: ${r?.quick_check ?? 'nothing'}`
    } finally {
      db.close()
    }
  } catch (err) {
    // only what says the file itself is bad: a store that is busy (other sessions write to it
    // with state.access: direct) or cannot be opened by this user is not damaged
    const code = String((err as { code?: string }).code ?? '')
    if (/^SQLITE_(CORRUPT|NOTADB)/.test(code)) return (err as Error).message
    return undefined
  }
  return undefined
}

/** Best effort: the admin state SQLite can still read from a damaged file (header repaired in a copy). */
function salvage(path: string): Kept {
  const copy = `${path}.salvage`
  const out: Kept = { disabled: [] }
  try {
    copyFileSync(path, copy)
    const fd = openSync(copy, 'r+')
    try {
      if (statSync(copy).size >= 16) writeFileSync(fd, MAGIC)
    } finally {
      closeSync(fd)
    }
    const db = new Database(copy, { readonly: true })
    try {
      out.disabled = db
        .query<{ id: string }, []>('SELECT id FROM hosts WHERE disabled = 1')
        .all()
        .map((r) => r.id)
    } catch {}
    try {
      out.banner =
        db
          .query<{ text: string; expire: number | null }, []>('SELECT text, expire FROM banner')
          .get() ?? undefined
    } catch {}
    db.close()
  } catch {
    // nothing readable: the kept copy is all there is
  } finally {
    rmSync(copy, { force: true })
  }
  return out
}

export function readKept(path: string): Kept | undefined {
  try {
    if (!existsSync(keptPath(path))) return undefined
    const v = JSON.parse(readFileSync(keptPath(path), 'utf8'))
    if (v && Array.isArray(v.disabled) && v.disabled.every((x: unknown) => typeof x === 'string'))
      return v as Kept
  } catch {}
  return undefined
}

/** Replaces the kept copy atomically (write, then rename). */
export function writeKept(path: string, kept: Kept): void {
  const tmp = `${keptPath(path)}.tmp`
  writeFileSync(tmp, JSON.stringify(kept), { mode: 0o600 })
  renameSync(tmp, keptPath(path))
}

export interface Recovery {
  reason: string
  aside: string
  kept: Kept
}

/** Moves a damaged store (and its WAL) aside; returns what to restore into the new one. */
export function moveAside(path: string, reason: string): Recovery {
  const salvaged = salvage(path)
  const fromCopy = readKept(path)
  const disabled = [...new Set([...(fromCopy?.disabled ?? []), ...salvaged.disabled])].sort()
  const aside = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '')}`
  renameSync(path, aside)
  // a WAL left behind would be replayed into the new, empty store
  for (const ext of ['-wal', '-shm'])
    if (existsSync(path + ext)) renameSync(path + ext, aside + ext)
  return { reason, aside, kept: { disabled, banner: salvaged.banner ?? fromCopy?.banner } }
}
