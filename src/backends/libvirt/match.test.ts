import { describe, expect, test } from 'bun:test'
import { caseInsensitiveMatches, closestNames } from './match'

const names = ['web-1', 'web-2', 'MyVM', 'MYVM', 'db', 'fedora-40', 'debian-12', 'Debian-12-old']

describe('caseInsensitiveMatches', () => {
  test.each([
    ['myvm', ['MyVM', 'MYVM']],
    ['MyVM', ['MyVM', 'MYVM']],
    ['WEB-1', ['web-1']],
    ['debian-12', ['debian-12']],
    ['web', []],
    ['', []],
  ])('%p matches %p', (typed, want) => {
    expect(caseInsensitiveMatches(typed, names)).toEqual(want)
  })
})

describe('closestNames', () => {
  test.each([
    ['web-3', ['web-1', 'web-2']],
    ['web', ['web-1', 'web-2']],
    ['debian', ['debian-12', 'Debian-12-old']],
    ['debain-12', ['debian-12']],
    ['fedora-41', ['fedora-40']],
    ['d', ['db']],
    ['zzzzzzzz', []],
    ['mvm', ['MyVM', 'MYVM']],
  ])('%p suggests %p', (typed, want) => {
    expect(closestNames(typed, names)).toEqual(want)
  })

  test('suggests at most three names, nearest first, then by name', () => {
    expect(closestNames('vm-0', ['vm-10', 'vm-1', 'vm-2', 'vm-3', 'vm-4'])).toEqual([
      'vm-1',
      'vm-10',
      'vm-2',
    ])
  })

  test('suggests nothing from an empty list', () => {
    expect(closestNames('vm', [])).toEqual([])
  })
})
