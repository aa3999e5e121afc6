/**
 * Limits on unauthenticated clients, after sshd_config(5): MaxStartups (`start:rate:full`, random
 * early drop of new unauthenticated connections), LoginGraceTime (enforced by the server), and a
 * per-source penalty like PerSourcePenalties: an address with too many failed connections in a
 * window is refused at accept, before any SSH is spoken.
 */
import { fail } from '../../core/errors'

export interface StartupsSpec {
  start: number
  rate: number
  full: number
}

/** "10", "10:30:100" → spec; the single number form drops everything beyond it. */
export function parseStartups(text: string): StartupsSpec {
  const m = /^(\d+)(?::(\d+):(\d+))?$/.exec(text)
  if (!m) fail(`parse --max-startups '${text}'`, 'expected N or START:RATE:FULL, e.g. 10:30:100')
  const start = Number(m[1])
  if (m[2] === undefined) return { start, rate: 100, full: start }
  const spec = { start, rate: Number(m[2]), full: Number(m[3]) }
  if (spec.start < 1 || spec.rate > 100 || spec.full < spec.start) {
    fail(`parse --max-startups '${text}'`, 'need 1 <= START <= FULL and RATE <= 100')
  }
  return spec
}

export class Startups {
  #pending = 0
  constructor(
    readonly spec: StartupsSpec,
    private readonly random: () => number = Math.random,
  ) {}

  get pending(): number {
    return this.#pending
  }

  /** Whether to take one more unauthenticated connection; call `done()` once it authenticates or ends. */
  admit(): boolean {
    const { start, rate, full } = this.spec
    if (this.#pending >= full) return false
    if (this.#pending >= start) {
      // drop probability grows linearly from rate% at `start` to 100% at `full`
      const p =
        full === start
          ? 1
          : (rate + ((100 - rate) * (this.#pending - start)) / (full - start)) / 100
      if (this.random() < p) return false
    }
    this.#pending++
    return true
  }

  done(): void {
    if (this.#pending > 0) this.#pending--
  }
}

export interface PenaltySpec {
  /** failed connections allowed per window */
  max: number
  windowMs: number
}

/** "10/60" → 10 failures per 60 s; "0" turns the penalty off. */
export function parsePenalty(text: string): PenaltySpec {
  if (text === '0') return { max: 0, windowMs: 0 }
  const m = /^(\d+)\/(\d+)$/.exec(text)
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1)
    fail(`parse --max-auth-failures '${text}'`, 'expected FAILURES/SECONDS, e.g. 10/60, or 0')
  return { max: Number(m[1]), windowMs: Number(m[2]) * 1000 }
}

/** Failed connections per source address in a sliding window. */
export class Penalties {
  readonly #failures = new Map<string, number[]>()
  constructor(
    readonly spec: PenaltySpec,
    private readonly now: () => number = Date.now,
  ) {}

  #recent(addr: string): number[] {
    const cutoff = this.now() - this.spec.windowMs
    const list = (this.#failures.get(addr) ?? []).filter((t) => t > cutoff)
    if (list.length) this.#failures.set(addr, list)
    else this.#failures.delete(addr)
    return list
  }

  blocked(addr: string): boolean {
    return this.spec.max > 0 && this.#recent(addr).length >= this.spec.max
  }

  record(addr: string): void {
    if (this.spec.max === 0) return
    const list = this.#recent(addr)
    list.push(this.now())
    this.#failures.set(addr, list)
    // forget the oldest addresses so a scan over many sources cannot grow the map without end
    if (this.#failures.size > 10_000) this.#failures.delete(this.#failures.keys().next().value!)
  }
}

/** "30", "2m", "1h" → milliseconds; 0 = no limit. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(text)
  if (!m) fail(`parse ${what} '${text}'`, 'expected a number of seconds or e.g. 500ms, 30s, 2m, 1h')
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!
  return Number(m[1]) * unit
}

/**
 * MaxStartups and the per-source penalty together, for one listener: the single server's or the
 * --master's, which hears from its workers what the connection did (ConnectionReport).
 */
export class ConnectionLimits {
  readonly startups: Startups
  readonly penalties: Penalties

  constructor(startups: StartupsSpec, penalty: PenaltySpec) {
    this.startups = new Startups(startups)
    this.penalties = new Penalties(penalty)
  }

  /** Takes a new connection from `ip`, or says in one log line why not. */
  admit(ip: string): string | undefined {
    if (this.penalties.blocked(ip))
      return `Refused connection from ${ip}: too many failed logins recently`
    if (!this.startups.admit())
      return `Dropped connection from ${ip}: ${this.startups.pending} unauthenticated connections (--max-startups)`
    return undefined
  }

  /** What one admitted connection reports: its startup slot is freed once, on auth or close. */
  reporter(ip: string): (r: { authenticated?: boolean; closed?: { failed: boolean } }) => void {
    let released = false
    return (r) => {
      if (!released && (r.authenticated || r.closed)) {
        released = true
        this.startups.done()
      }
      if (r.closed?.failed) this.penalties.record(ip)
    }
  }
}
