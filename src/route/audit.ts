/**
 * Audit log lines: who → where → when → exit code for every session. Through the state service
 * the service writes them, starting each with the uid the kernel reported (policy auditPrefix),
 * so no user can write a line in another's name; with state.access direct the session appends
 * them itself (single-user gateways).
 */
import { appendFileSync } from 'node:fs'
import { logger } from '../core/log'
import type { AuditEvent } from './state/types'

/** The line for an event, without time and prefix; fields a session reports are quoted. */
export function auditText(user: string, e: AuditEvent): string {
  const head = `${e.sid} ${user} from ${JSON.stringify(e.from)} via ${JSON.stringify(e.sshd)} service=${e.service}`
  if (e.kind === 'nodest') return `${head}: no destination up`
  if (e.kind === 'start') return `${head} → ${e.dest} command=${JSON.stringify(e.command ?? '')}`
  const how =
    e.exit === undefined ? 'ended without an exit code (the session went away)' : `exit ${e.exit}`
  return `${head} → ${e.dest} ${how} after ${(e.seconds ?? 0).toFixed(1)} s`
}

export const expandUser = (path: string, user: string) => path.replace(/\{user\}/g, user)

/** Appends one line; a log that cannot be written is reported in debug output, never fatal. */
export function appendAudit(path: string, line: string, mode = 0o600): void {
  try {
    appendFileSync(path, `${new Date().toISOString()} ${line}\n`, { mode })
  } catch (err) {
    logger.debug(`Failed to write the log ${path}: ${(err as Error).message}`)
  }
}
