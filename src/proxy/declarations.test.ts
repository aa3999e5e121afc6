/**
 * What the backends declare is what the README and --help say: the README's form table and
 * host-key table are written by hand for people, so this test holds them to the declarations.
 */
import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { targetArgs } from '../commands/_shared'
import type { HostKeyPolicy } from './backend'
import { hostKeysHelp, matchPatterns } from './install-config'
import { backends, wholeNames } from './registry'

const README = readFileSync(join(import.meta.dir, '../../README.md'), 'utf8')

/** The body rows of the markdown table whose header row is `header` (indented tables too). */
function table(header: string): string[][] {
  const lines = README.split('\n').map((l) => l.trim())
  const at = lines.indexOf(header)
  if (at < 0) throw new Error(`README has no table '${header}'`)
  const end = lines.findIndex((l, i) => i > at && !l.startsWith('|'))
  return lines.slice(at + 2, end).map((l) =>
    l
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim()),
  )
}

const ticks = (cell: string) =>
  [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).filter((t) => !['/', '%'].includes(t))
const prefixOf = (form: string) => form.split(/[/%*]/)[0]!
const declaredPrefixes = backends.flatMap((b) => b.prefixes)
const looseNames = wholeNames()

describe('the README form table lists exactly the declared forms', () => {
  const cells = table('| HOST | means |').map((r) => r[0]!)
  const forms = cells.flatMap(ticks)

  test.each(declaredPrefixes.map((p) => [p]))('prefix %p has a row', (prefix) => {
    expect(forms.map(prefixOf)).toContain(prefix)
  })

  test.each(looseNames.map((n) => [n]))('whole-host name %p has a row', (name) => {
    expect(forms).toContain(name)
  })

  test('every row names a declared form (or is the TCP row)', () => {
    for (const cell of cells) {
      if (cell === 'anything else') continue
      for (const form of ticks(cell)) {
        const known = looseNames.includes(form) || declaredPrefixes.includes(prefixOf(form))
        expect(known ? form : `undeclared form ${form}`).toBe(form)
      }
    }
  })
})

describe('the README host-key table agrees with each form and name', () => {
  const allNames = backends.flatMap((b) => (b.names ?? []).map((n) => n.name))
  const readme = new Map<string, HostKeyPolicy>()
  for (const [cell, policy] of table('| form | host keys | why |')) {
    for (const form of ticks(cell!)) {
      readme.set(
        allNames.includes(form) ? form : prefixOf(form),
        policy!.startsWith('not recorded') ? 'throwaway' : 'check',
      )
    }
  }

  const declared: [string, HostKeyPolicy][] = []
  for (const b of backends) {
    if (b.hostKeys === undefined) continue
    declared.push([b.prefixes[0]!, b.hostKeys])
    for (const n of b.names ?? []) if (!n.name.includes('%')) declared.push([n.name, n.hostKeys])
  }

  test.each(declared)('%p: %p', (form, policy) => {
    expect(readme.get(form)).toBe(policy)
  })

  test('every row is a declared form or name', () => {
    expect([...readme.keys()].sort()).toEqual(declared.map(([f]) => f).sort())
  })
})

describe('help texts and the drop-in come from the declarations', () => {
  test.each(backends.map((b) => [b.kind, b.prefixes.length ? b.usage : 'a TCP host']))(
    'proxy --help names %p as %p',
    (_, usage) => {
      expect(targetArgs.host.description).toContain(usage)
    },
  )

  test('--strict-host-keys help and the Match lists agree on every throwaway form', () => {
    const { throwaway } = matchPatterns()
    for (const b of backends.filter((x) => x.hostKeys === 'throwaway')) {
      expect(hostKeysHelp()).toContain(`${b.prefixes[0]}`)
      expect(throwaway).toContain(`${b.prefixes[0]}/*`)
    }
  })
})
