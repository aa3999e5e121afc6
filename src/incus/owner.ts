/**
 * Which live process owns what burrow leaves in Incus and on the host: `<pid>-<start time>`, so a
 * reused pid does not count as alive, and that owner's private runtime directory for host-side
 * sockets (`<runtime>/<pid>-<start>/`).
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** "<pid>-<start time in clock ticks, base 36>" for a live process, undefined when it is gone */
export function ownerOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm may contain spaces and parentheses: fields count from the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // a killed process not yet reaped (its parent died with it) owns nothing any more
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined
    return `${pid}-${Number(fields[19]).toString(36)}`
  } catch {
    return undefined
  }
}

export const OWNER = ownerOf(process.pid) ?? `${process.pid}-0`
export function runtimeRoot(): string {
  if (process.env.BURROW_RUNTIME_DIR) return process.env.BURROW_RUNTIME_DIR
  const uid = process.getuid?.() ?? 0
  if (uid === 0) return '/run/burrow'
  return join(process.env.XDG_RUNTIME_DIR || tmpdir(), `burrow-${uid}`)
}

/** This process's private directory for host-side sockets (mode 0700). */
export function runtimeDir(): string {
  const dir = join(runtimeRoot(), OWNER)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  return dir
}

export function removeRuntimeDir(): void {
  rmSync(join(runtimeRoot(), OWNER), { recursive: true, force: true })
}
