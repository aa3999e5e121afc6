/** Matching a typed domain name against libvirt's names: case folding and "closest matches". */
import { distance } from '../../core/suggest'

/**
 * Names equal to `typed` when case is ignored. OpenSSH lowercases %h for `qemu/MyVM` (no `%` or
 * `:` in it), while libvirt compares names case-sensitively.
 */
export function caseInsensitiveMatches(typed: string, names: readonly string[]): string[] {
  const want = typed.toLowerCase()
  return names.filter((n) => n.toLowerCase() === want)
}

/**
 * Up to `max` names worth suggesting for `typed`, nearest first: within a few edits (a third of
 * the typed length, at least 1) or containing what was typed.
 */
export function closestNames(typed: string, names: readonly string[], max = 3): string[] {
  const want = typed.toLowerCase()
  const limit = Math.max(1, Math.floor(want.length / 3))
  return names
    .map((name) => ({ name, lower: name.toLowerCase(), d: distance(want, name.toLowerCase()) }))
    .filter((c) => c.d <= limit || (want.length >= 3 && c.lower.includes(want)))
    .sort((a, b) => a.d - b.d || a.name.localeCompare(b.name))
    .slice(0, max)
    .map((c) => c.name)
}
