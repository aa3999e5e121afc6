/**
 * State in one SQLite file on the gateway (bun:sqlite), opened by the state service (or, with
 * state.access: direct, by each session; WAL mode and a busy timeout let several write at once).
 * A live connection is a row that names the process holding it: it counts while that process
 * runs (pid + start time from /proc, so a reused pid does not count) and its heartbeat is fresh.
 * The file is created 0600 and checked before use (recover.ts).
 */
import { Database } from 'bun:sqlite'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import { fail } from '../../core/errors'
import * as libc from '../../core/ffi/libc'
import { LOCK_EX } from '../../core/ffi/structs'
import { logger } from '../../core/log'
import { STORE_MODE } from '../policy'
import { damage, moveAside, type Recovery, writeKept } from './recover'
import type {
  Banner,
  Check,
  Connection,
  ConnectionFilter,
  HostState,
  Registration,
  State,
  Sticky,
} from './types'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS connections (
  id TEXT PRIMARY KEY, user TEXT NOT NULL, service TEXT NOT NULL, dest TEXT NOT NULL,
  src TEXT NOT NULL, sshd TEXT NOT NULL, gateway TEXT NOT NULL, start INTEGER NOT NULL,
  pid INTEGER NOT NULL, pidstart TEXT NOT NULL, expires INTEGER NOT NULL,
  bw_in REAL NOT NULL DEFAULT 0, bw_out REAL NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS connections_user ON connections (user, service);
CREATE TABLE IF NOT EXISTS hosts (
  id TEXT PRIMARY KEY, state TEXT NOT NULL DEFAULT 'unknown', ts INTEGER NOT NULL DEFAULT 0,
  disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sticky (
  user TEXT NOT NULL, service TEXT NOT NULL, dest TEXT NOT NULL, expires INTEGER NOT NULL,
  PRIMARY KEY (user, service));
CREATE TABLE IF NOT EXISTS banner (k INTEGER PRIMARY KEY CHECK (k = 1), text TEXT NOT NULL, expire INTEGER);
`

/** Field 22 of /proc/PID/stat (start time in clock ticks), '' when the process is gone. */
export function processStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[0] === 'Z' ? '' : (fields[19] ?? '')
  } catch {
    return ''
  }
}

interface Row {
  id: string
  user: string
  service: string
  dest: string
  src: string
  sshd: string
  gateway: string
  start: number
  pid: number
  pidstart: string
  expires: number
  bw_in: number
  bw_out: number
}

export class EmbeddedState implements State {
  readonly name = 'embedded'
  readonly db: Database
  readonly #me = hostname()
  readonly #timers = new Set<ReturnType<typeof setInterval>>()

  constructor(readonly location: string) {
    let recovery: Recovery | undefined
    let lock: number | undefined
    try {
      if (!existsSync(location)) mkdirSync(dirname(location), { recursive: true, mode: 0o755 })
      // one opener at a time (state.access: direct opens the store in every session): else a
      // store another process is just creating looks empty, and one it is setting up looks locked,
      // and both would be moved aside as damaged
      lock = openSync(`${location}.lock`, 'a', STORE_MODE)
      libc.flock(lock, LOCK_EX)
      const reason = damage(location)
      if (reason) recovery = moveAside(location, reason)
      // the store belongs to whoever opens it (the state service); no one else reads or writes it
      if (!existsSync(location)) closeSync(openSync(location, 'a', STORE_MODE))
      this.db = new Database(location, { create: true, strict: true })
      this.db.exec('PRAGMA busy_timeout = 5000')
      this.db.exec('PRAGMA journal_mode = WAL')
      this.db.exec('PRAGMA synchronous = NORMAL')
      this.db.exec(SCHEMA)
      if (recovery) this.#restore(recovery)
    } catch (err) {
      const hint =
        (err as { code?: string }).code === 'EACCES' ||
        /readonly|permission/i.test((err as Error).message)
          ? ' (the store is the state service’s: run `burrow route state-service` as root, and let sessions reach it with state.access: service, the default)'
          : ''
      fail(`open state ${location}`, `${(err as Error).message}${hint}`)
    } finally {
      if (lock !== undefined) closeSync(lock)
    }
  }

  /** Puts back what admins set and says once what happened. */
  #restore({ reason, aside, kept }: Recovery): void {
    for (const id of kept.disabled)
      this.db.query('INSERT OR REPLACE INTO hosts (id, disabled) VALUES ($id, 1)').run({ id })
    if (kept.banner)
      this.db
        .query('INSERT OR REPLACE INTO banner (k, text, expire) VALUES (1, $text, $expire)')
        .run(kept.banner)
    this.#keep()
    const what = [
      kept.disabled.length ? `disabled host(s) ${kept.disabled.join(', ')}` : 'no disabled hosts',
      kept.banner ? 'the banner' : '',
    ]
      .filter(Boolean)
      .join(' and ')
    logger.warn(
      `state ${this.location} was damaged (${reason}); moved it to ${aside} and started a new one, keeping ${what}`,
    )
  }

  /** The admin state, copied beside the store after each admin change (recover.ts). */
  #keep(): void {
    const disabled = this.db
      .query<{ id: string }, []>('SELECT id FROM hosts WHERE disabled = 1 ORDER BY id')
      .all()
      .map((r) => r.id)
    const banner =
      this.db
        .query<{ text: string; expire: number | null }, []>('SELECT text, expire FROM banner')
        .get() ?? undefined
    try {
      writeKept(this.location, { disabled, banner })
    } catch (err) {
      logger.warn(
        `Failed to keep a copy of the disabled hosts beside ${this.location}: ${(err as Error).message}`,
      )
    }
  }

  #alive(r: Row, now: number): boolean {
    if (r.expires < now) return false
    return r.gateway !== this.#me || processStart(r.pid) === r.pidstart
  }

  async register(c: Connection, ttlMs: number): Promise<Registration> {
    const pid = process.pid
    this.db
      .query(
        `INSERT OR REPLACE INTO connections (id, user, service, dest, src, sshd, gateway, start, pid, pidstart, expires)
         VALUES ($id, $user, $service, $dest, $src, $sshd, $gateway, $start, $pid, $pidstart, $expires)`,
      )
      .run({ ...c, src: c.from, pid, pidstart: processStart(pid), expires: Date.now() + ttlMs })
    let bw = [0, 0]
    const beat = () => {
      try {
        this.db
          .query(
            'UPDATE connections SET expires = $expires, bw_in = $in, bw_out = $out WHERE id = $id',
          )
          .run({ id: c.id, expires: Date.now() + ttlMs, in: bw[0]!, out: bw[1]! })
      } catch (err) {
        logger.warn(
          `Failed to refresh connection ${c.id} in ${this.location}: ${(err as Error).message}`,
        )
      }
    }
    const timer = setInterval(beat, Math.max(200, ttlMs / 3))
    this.#timers.add(timer)
    return {
      setBandwidth: (i, o) => {
        bw = [i, o]
      },
      close: async () => {
        clearInterval(timer)
        this.#timers.delete(timer)
        this.db.query('DELETE FROM connections WHERE id = $id').run({ id: c.id })
      },
    }
  }

  async connections(filter: ConnectionFilter = {}): Promise<Connection[]> {
    const now = Date.now()
    const rows = this.db
      .query<Row, { user: string | null; service: string | null }>(
        `SELECT * FROM connections WHERE ($user IS NULL OR user = $user) AND ($service IS NULL OR service = $service)
         ORDER BY start`,
      )
      .all({ user: filter.user ?? null, service: filter.service ?? null })
    const dead = rows.filter((r) => !this.#alive(r, now))
    if (dead.length) {
      const del = this.db.query('DELETE FROM connections WHERE id = $id AND pidstart = $pidstart')
      this.db.transaction(() => {
        for (const r of dead) del.run({ id: r.id, pidstart: r.pidstart })
      })()
    }
    return rows
      .filter((r) => !dead.includes(r))
      .map((r) => ({
        id: r.id,
        user: r.user,
        service: r.service,
        dest: r.dest,
        from: r.src,
        sshd: r.sshd,
        gateway: r.gateway,
        start: r.start,
        bwIn: r.bw_in,
        bwOut: r.bw_out,
      }))
  }

  async hosts(): Promise<HostState[]> {
    return this.db
      .query<{ id: string; state: Check; ts: number; disabled: number }, []>(
        'SELECT * FROM hosts ORDER BY id',
      )
      .all()
      .map((r) => ({ ...r, disabled: r.disabled !== 0 }))
  }

  async host(id: string): Promise<HostState | undefined> {
    const r = this.db
      .query<{ id: string; state: Check; ts: number; disabled: number }, { id: string }>(
        'SELECT * FROM hosts WHERE id = $id',
      )
      .get({ id })
    return r ? { ...r, disabled: r.disabled !== 0 } : undefined
  }

  async recordCheck(id: string, state: Check, ts: number): Promise<void> {
    this.db
      .query(
        'INSERT INTO hosts (id, state, ts) VALUES ($id, $state, $ts) ON CONFLICT(id) DO UPDATE SET state = $state, ts = $ts',
      )
      .run({ id, state, ts })
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    this.db
      .query(
        'INSERT INTO hosts (id, disabled) VALUES ($id, $d) ON CONFLICT(id) DO UPDATE SET disabled = $d',
      )
      .run({ id, d: disabled ? 1 : 0 })
    this.#keep()
  }

  async forgetHost(id: string): Promise<void> {
    this.db.query('DELETE FROM hosts WHERE id = $id').run({ id })
    this.#keep()
  }

  async remember(user: string, service: string, dest: string, ttlMs: number): Promise<void> {
    this.db
      .query(
        'INSERT OR REPLACE INTO sticky (user, service, dest, expires) VALUES ($user, $service, $dest, $expires)',
      )
      .run({ user, service, dest, expires: Date.now() + ttlMs })
  }

  async recall(user: string, service: string): Promise<string | undefined> {
    const r = this.db
      .query<{ dest: string }, { user: string; service: string; now: number }>(
        'SELECT dest FROM sticky WHERE user = $user AND service = $service AND expires > $now',
      )
      .get({ user, service, now: Date.now() })
    return r?.dest
  }

  async sticky(): Promise<Sticky[]> {
    return this.db
      .query<{ user: string; service: string; dest: string; expires: number }, { now: number }>(
        'SELECT * FROM sticky WHERE expires > $now ORDER BY user, service',
      )
      .all({ now: Date.now() })
      .map((r) => ({ user: r.user, service: r.service, dest: r.dest, expire: r.expires }))
  }

  async forgetSticky(f: { user?: string; service?: string; dest?: string }): Promise<number> {
    this.db.query('DELETE FROM sticky WHERE expires <= $now').run({ now: Date.now() })
    return this.db
      .query(
        `DELETE FROM sticky WHERE ($user IS NULL OR user = $user) AND ($service IS NULL OR service = $service)
         AND ($dest IS NULL OR dest = $dest)`,
      )
      .run({ user: f.user ?? null, service: f.service ?? null, dest: f.dest ?? null }).changes
  }

  async banner(): Promise<Banner | undefined> {
    const r = this.db
      .query<{ text: string; expire: number | null }, []>('SELECT text, expire FROM banner')
      .get()
    if (!r || (r.expire !== null && r.expire <= Date.now())) return undefined
    return { text: r.text, expire: r.expire ?? undefined }
  }

  async setBanner(text: string, expire?: number): Promise<void> {
    this.db
      .query('INSERT OR REPLACE INTO banner (k, text, expire) VALUES (1, $text, $expire)')
      .run({ text, expire: expire ?? null })
    this.#keep()
  }

  async clearBanner(): Promise<void> {
    this.db.query('DELETE FROM banner').run()
    this.#keep()
  }

  close(): void {
    // registrations still open end with the store; their rows expire with their heartbeat
    for (const t of this.#timers) clearInterval(t)
    this.db.close()
  }
}
