import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crypt } from '../../core/ffi/crypt'
import { checkPassword, parseShadow, unusable } from './shadow'

describe('crypt(3) through libcrypt.so.1', () => {
  test.each([
    ['$6$saltsalt$', /^\$6\$saltsalt\$[./0-9A-Za-z]{86}$/],
    ['$5$saltsalt$', /^\$5\$saltsalt\$/],
    ['$y$j9T$abcdefghijklmnop$', /^\$y\$j9T\$/],
  ])('%p', (setting, re) => {
    const h = crypt('secret', setting)!
    expect(h).toMatch(re)
    expect(crypt('secret', h)).toBe(h)
    expect(crypt('Secret', h)).not.toBe(h)
  })

  test('an unknown method gives undefined', () => expect(crypt('x', '$unknown$')).toBeUndefined())
})

describe('shadow entries', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync('/tmp/burrow-shadow-')
    const y = crypt('pw', '$y$j9T$abcdefghijklmnop$')!
    const s = crypt('pw', '$6$saltsalt$')!
    writeFileSync(
      join(dir, 'shadow'),
      [
        `yes:${y}:1::::::`,
        `sha:${s}:1::::::`,
        `locked:!${s}:1::::::`,
        'star:*:1::::::',
        'empty::1::::::',
        `old:${s}:1:::::1:`,
        '',
      ].join('\n'),
    )
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test.each([
    ['yes', 'pw', true],
    ['yes', 'PW', false],
    ['sha', 'pw', true],
    ['locked', 'pw', false],
    ['star', '', false],
    ['empty', '', false],
    ['old', 'pw', false],
    ['missing', 'pw', false],
  ])('%p with %p → %p', async (name, pw, ok) => {
    expect(await checkPassword(name, pw, join(dir, 'shadow'))).toBe(ok)
  })

  test('reasons', () => {
    expect(unusable(parseShadow('a:!x:1', 'a')!)).toContain('locked')
    expect(unusable(parseShadow('a:abc:1', 'a')!)).toBe('no usable hash')
    expect(unusable(parseShadow('a:$6$saltsalt$abcdefgh:1:::::2', 'a')!, 3 * 86_400_000)).toBe(
      'account expired',
    )
  })
})
