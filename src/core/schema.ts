/**
 * A strict validator over yaml's node tree: every key must be known and every value must have
 * the right type, and each complaint names the file and line (sshproxy ignored unknown keys and
 * panicked on wrong types, so a typo like `user:` in a match silently applied to everyone).
 */
import type { LineCounter, Node as YamlNode } from 'yaml'
import { isMap, isScalar, isSeq } from 'yaml'
import { fail } from './errors'
import { distance } from './suggest'

export type Spec =
  | { t: 'string' }
  | { t: 'bool' }
  | { t: 'int'; min?: number }
  /** milliseconds, within [min, max] (a timer beyond 2^31-1 ms fires at once in JS) */
  | { t: 'duration'; min?: number; max?: number }
  | { t: 'enum'; values: readonly string[] }
  /** a list of strings; a single string is accepted and split on whitespace when `words` */
  | { t: 'list'; words?: boolean }
  | { t: 'strmap' }
  | { t: 'object'; keys: Record<string, Spec> }
  | { t: 'mapOf'; value: Spec }
  | { t: 'listOf'; item: Spec; nonEmpty?: boolean }
  /** checked elsewhere (overrides and their match lists) */
  | { t: 'any' }

export interface Where {
  file: string
  lines: LineCounter
}

/** "<file>:<line>" for a node, as editors and compilers print it. */
export function at(where: Where, node: YamlNode | null | undefined): string {
  const offset = node?.range?.[0]
  if (offset === undefined) return where.file
  const { line, col } = where.lines.linePos(offset)
  return `${where.file}:${line}:${col}`
}

export function bad(where: Where, node: YamlNode | null | undefined, reason: string): never {
  fail(`load ${at(where, node)}`, reason)
}

const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Milliseconds from `1.5s`, `250ms`, `2m`, `1h`, `7d`, or a bare number of seconds. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text * 1000 : undefined
  if (/^[0-9]+(\.[0-9]+)?$/.test(text)) return Number(text) * 1000
  const m = DURATION.exec(text)
  return m ? Number(m[1]) * UNIT[m[2]!]! : undefined
}

/** The longest delay a JS timer takes as it is (setTimeout clamps anything longer to 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1

const showMs = (ms: number) =>
  ms === 0
    ? '0s'
    : ms === MAX_TIMER_MS
      ? '24.8d'
      : ms % 86_400_000 === 0
        ? `${ms / 86_400_000}d`
        : ms % 3_600_000 === 0
          ? `${ms / 3_600_000}h`
          : ms % 60_000 === 0
            ? `${ms / 60_000}m`
            : ms % 1000 === 0
              ? `${ms / 1000}s`
              : `${ms}ms`

/** Rejects the second occurrence of a key in a map: a Set, so 40k keys cost 40k lookups. */
export function uniqueKey(where: Where, seen: Set<string>, key: string, node: YamlNode): void {
  if (seen.has(key)) bad(where, node, `Map keys must be unique ('${key}' appears twice)`)
  seen.add(key)
}

function scalar(where: Where, node: YamlNode | null, what: string): unknown {
  if (node === null || node === undefined) bad(where, node, `${what} has no value`)
  if (!isScalar(node))
    bad(where, node, `${what} must be a single value, not a ${isMap(node) ? 'map' : 'list'}`)
  return node.value
}

function str(where: Where, node: YamlNode | null, what: string): string {
  const v = scalar(where, node, what)
  // numbers are fine where a string is expected (a port, a numeric host name)
  if (typeof v === 'string') return v
  if (typeof v === 'number') return String(v)
  bad(where, node, `${what} must be a string, not ${v === null ? 'empty' : typeof v}`)
}

export function suggest(word: string, known: readonly string[]): string {
  const best = known.map((k) => ({ k, d: distance(word, k) })).sort((x, y) => x.d - y.d)[0]
  return best && best.d <= Math.max(2, word.length / 3) ? ` (did you mean '${best.k}'?)` : ''
}

/** Validates `node` against `spec` and returns the plain value. `what` names it in messages. */
export function check(where: Where, node: YamlNode | null, spec: Spec, what: string): unknown {
  switch (spec.t) {
    case 'string':
      return str(where, node, what)
    case 'bool': {
      const v = scalar(where, node, what)
      if (typeof v !== 'boolean')
        bad(where, node, `${what} must be true or false, not ${JSON.stringify(v)}`)
      return v
    }
    case 'int': {
      const v = scalar(where, node, what)
      if (typeof v !== 'number' || !Number.isInteger(v) || v < (spec.min ?? 0)) {
        bad(
          where,
          node,
          `${what} must be a whole number ≥ ${spec.min ?? 0}, not ${JSON.stringify(v)}`,
        )
      }
      return v
    }
    case 'duration': {
      const v = scalar(where, node, what)
      const ms = typeof v === 'string' || typeof v === 'number' ? parseDuration(v) : undefined
      if (ms === undefined)
        bad(
          where,
          node,
          `${what} must be a duration such as 30s, 500ms, 5m, 1h (or seconds), not ${JSON.stringify(v)}`,
        )
      const [min, max] = [spec.min ?? 0, spec.max ?? MAX_TIMER_MS]
      if (ms < min || ms > max)
        bad(
          where,
          node,
          `${what} must be from ${showMs(min)} to ${showMs(max)}, not ${JSON.stringify(v)}`,
        )
      return ms
    }
    case 'enum': {
      const v = str(where, node, what)
      if (!spec.values.includes(v)) {
        bad(
          where,
          node,
          `${what} must be one of ${spec.values.join(', ')}, not '${v}'${suggest(v, spec.values)}`,
        )
      }
      return v
    }
    case 'list':
      if (spec.words && isScalar(node)) {
        return str(where, node, what).split(/\s+/).filter(Boolean)
      }
      if (!isSeq(node)) bad(where, node, `${what} must be a list of strings`)
      return node.items.map((item, i) => str(where, item as YamlNode, `${what}[${i}]`))
    case 'strmap': {
      if (!isMap(node)) bad(where, node, `${what} must be a map of names to strings`)
      const out: Record<string, string> = Object.create(null)
      const seen = new Set<string>()
      for (const pair of node.items) {
        const key = str(where, pair.key as YamlNode, `a key of ${what}`)
        uniqueKey(where, seen, key, pair.key as YamlNode)
        out[key] = str(where, pair.value as YamlNode, `${what}.${key}`)
      }
      return out
    }
    case 'mapOf': {
      if (!isMap(node)) bad(where, node, `${what} must be a map`)
      const out: Record<string, unknown> = Object.create(null)
      const seen = new Set<string>()
      for (const pair of node.items) {
        const key = str(where, pair.key as YamlNode, `a key of ${what}`)
        uniqueKey(where, seen, key, pair.key as YamlNode)
        out[key] = check(where, pair.value as YamlNode, spec.value, `${what}['${key}']`)
      }
      return out
    }
    case 'listOf': {
      if (!isSeq(node)) bad(where, node, `${what} must be a list`)
      if (spec.nonEmpty && node.items.length === 0) bad(where, node, `${what} is empty`)
      return node.items.map((item, i) => check(where, item as YamlNode, spec.item, `${what}[${i}]`))
    }
    case 'object':
      return checkObject(where, node, spec.keys, what)
    case 'any':
      return undefined
  }
}

export function checkObject(
  where: Where,
  node: YamlNode | null,
  keys: Record<string, Spec>,
  what: string,
): Record<string, unknown> {
  if (!isMap(node)) bad(where, node, `${what} must be a map of keys to values`)
  const out: Record<string, unknown> = Object.create(null)
  const seen = new Set<string>()
  for (const pair of node.items) {
    const keyNode = pair.key as YamlNode
    const key = str(where, keyNode, `a key in ${what}`)
    uniqueKey(where, seen, key, keyNode)
    const spec = Object.hasOwn(keys, key) ? keys[key] : undefined
    if (!spec)
      bad(where, keyNode, `unknown key '${key}' in ${what}${suggest(key, Object.keys(keys))}`)
    out[key] = check(
      where,
      pair.value as YamlNode,
      spec,
      what === 'the config' ? key : `${what}.${key}`,
    )
  }
  return out
}
