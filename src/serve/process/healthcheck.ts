/**
 * `--healthcheck INTERVAL`: asks the default Incus endpoint `GET /1.0` every INTERVAL. While it
 * does not answer, logins fail at once with one line instead of each waiting on its own timeouts;
 * a login during an outage checks again (at most every 250 ms), so the first login after incusd
 * is back works without waiting for the next tick and without restarting burrow.
 */
import { BurrowError } from '../../core/errors'
import { logger } from '../../core/log'
import type { IncusClient } from '../../incus'

const CHECK_TIMEOUT_MS = 5000
const RECHECK_MS = 250

export class HealthCheck {
  #down?: { since: Date; reason: string }
  #lastCheck = 0
  #running?: Promise<void>
  #timer?: ReturnType<typeof setInterval>

  constructor(
    readonly client: IncusClient,
    readonly intervalMs: number,
  ) {}

  start(): this {
    void this.check()
    this.#timer = setInterval(() => void this.check(), this.intervalMs)
    this.#timer.unref?.()
    return this
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  get healthy(): boolean {
    return !this.#down
  }

  /** One check at a time; concurrent callers share it. */
  check(): Promise<void> {
    this.#running ??= this.#probe().finally(() => (this.#running = undefined))
    return this.#running
  }

  async #probe(): Promise<void> {
    this.#lastCheck = Date.now()
    try {
      const answer = this.client.get('/1.0', { what: 'check incusd' })
      const timeout = Bun.sleep(CHECK_TIMEOUT_MS).then(() => {
        throw new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`)
      })
      await Promise.race([answer, timeout])
      if (this.#down)
        logger.info(`Incus is answering again (down since ${this.#down.since.toISOString()})`)
      this.#down = undefined
    } catch (err) {
      const reason = (err as Error).message.replace(/^Failed to check incusd: /, '')
      if (!this.#down) {
        logger.warn(`Incus health check failed: ${reason}`)
        this.#down = { since: new Date(), reason }
      } else this.#down.reason = reason
    }
  }

  /**
   * Throws one line for the SSH user while Incus is down. `recheck`: a login's own request could
   * not reach Incus, so look now instead of waiting for the next tick.
   */
  async gate(recheck = false): Promise<void> {
    if (!this.#down && !recheck) return
    if (recheck || Date.now() - this.#lastCheck >= RECHECK_MS) await this.check()
    const down = this.#down
    if (!down) return
    throw new BurrowError(
      `Failed to reach Incus: not answering since ${down.since.toISOString().slice(11, 19)} UTC (${down.reason}); try again later`,
    )
  }
}
