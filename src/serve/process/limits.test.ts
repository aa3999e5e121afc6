import { describe, expect, test } from 'bun:test'
import { parseDuration, parsePenalty, parseStartups, Penalties, Startups } from './limits'

describe('MaxStartups', () => {
  test.each([
    ['10', { start: 10, rate: 100, full: 10 }],
    ['10:30:100', { start: 10, rate: 30, full: 100 }],
  ])('%p parses', (text, spec) => expect(parseStartups(text)).toEqual(spec))

  test.each(['', 'x', '10:30', '10:130:100', '10:30:5', '0:30:100'])('%p is refused', (text) => {
    expect(() => parseStartups(text)).toThrow(/Failed to parse --max-startups/)
  })

  test('admits up to start, drops randomly up to full, always beyond', () => {
    let r = 0.5
    const s = new Startups(parseStartups('2:50:4'), () => r)
    expect([s.admit(), s.admit()]).toEqual([true, true])
    // pending 2 = start: p = 50 %, r 0.5 is not below it
    expect(s.admit()).toBe(true)
    // pending 3: p = 75 %
    r = 0.7
    expect(s.admit()).toBe(false)
    r = 0.8
    expect(s.admit()).toBe(true)
    r = 0.99
    expect(s.admit()).toBe(false)
    s.done()
    expect(s.pending).toBe(3)
  })
})

describe('per-source penalties', () => {
  test('block after max failures in the window, and forget them after it', () => {
    let now = 0
    const p = new Penalties(parsePenalty('3/60'), () => now)
    for (let i = 0; i < 3; i++) {
      expect(p.blocked('10.0.0.1')).toBe(false)
      p.record('10.0.0.1')
    }
    expect(p.blocked('10.0.0.1')).toBe(true)
    expect(p.blocked('10.0.0.2')).toBe(false)
    now = 60_001
    expect(p.blocked('10.0.0.1')).toBe(false)
  })

  test('0 turns them off', () => {
    const p = new Penalties(parsePenalty('0'))
    for (let i = 0; i < 100; i++) p.record('a')
    expect(p.blocked('a')).toBe(false)
  })

  test.each(['x', '3', '0/60', '3/0', '-1/5'])('%p is refused', (t) =>
    expect(() => parsePenalty(t)).toThrow(/Failed to parse/),
  )
})

test.each([
  ['30', 30_000],
  ['30s', 30_000],
  ['500ms', 500],
  ['2m', 120_000],
  ['1h', 3_600_000],
  ['0', 0],
])('duration %p', (t, ms) => expect(parseDuration(t, '--x')).toBe(ms))
test('a bad duration says what it expected', () =>
  expect(() => parseDuration('1d', '--login-grace-time')).toThrow(
    "Failed to parse --login-grace-time '1d'",
  ))
