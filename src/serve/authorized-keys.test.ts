import { describe, expect, test } from 'bun:test'
import { findKey, matchFrom, parseAuthorizedKeys } from './authorized-keys'

const ED = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'
const blob = Buffer.from(ED, 'base64')

describe('parseAuthorizedKeys', () => {
  test('plain keys, comments and blank lines', () => {
    const keys = parseAuthorizedKeys(`# c\n\nssh-ed25519 ${ED} me@host\n`, 'f')
    expect(keys).toEqual([
      { type: 'ssh-ed25519', blob, text: `ssh-ed25519 ${ED}`, noPty: false, origin: 'f:3' },
    ])
  })

  test.each([
    [
      `from="10.0.0.0/8,!10.9.9.9" ssh-ed25519 ${ED}`,
      { from: ['10.0.0.0/8', '!10.9.9.9'], noPty: false },
    ],
    [`restrict ssh-ed25519 ${ED} x`, { noPty: true }],
    [`restrict,pty ssh-ed25519 ${ED}`, { noPty: false }],
    [`no-pty,no-port-forwarding ssh-ed25519 ${ED}`, { noPty: true }],
    [`from="a,b",no-agent-forwarding ssh-ed25519 ${ED}`, { from: ['a', 'b'] }],
  ])('options %p', (line, want) => {
    expect(parseAuthorizedKeys(line, 'f')[0]).toMatchObject(want)
  })

  test.each([
    `command="/bin/true" ssh-ed25519 ${ED}`,
    `cert-authority ssh-ed25519 ${ED}`,
    `principals="a" ssh-ed25519 ${ED}`,
    `environment="A=b" ssh-ed25519 ${ED}`,
    `command="a \\"quoted, with comma\\"" ssh-ed25519 ${ED}`,
    'ssh-ed25519',
    'garbage line here',
  ])('%p is skipped with a warning', (line) => {
    const warnings: string[] = []
    expect(parseAuthorizedKeys(line, 'f', (m) => warnings.push(m))).toEqual([])
    expect(warnings).toHaveLength(1)
  })
})

describe('from= patterns', () => {
  test.each([
    [['127.0.0.1'], '127.0.0.1', true],
    [['127.0.0.1'], '::ffff:127.0.0.1', true],
    [['10.*'], '10.1.2.3', true],
    [['10.?.2.3'], '10.1.2.3', true],
    [['10.0.0.0/8'], '10.200.0.1', true],
    [['10.0.0.0/8'], '11.0.0.1', false],
    [['10.0.0.0/8', '!10.9.9.9'], '10.9.9.9', false],
    [['!10.9.9.9'], '10.1.1.1', false],
    [['fd00::/8'], 'fd12::1', true],
    [['fd00::/8'], 'fe80::1', false],
    [['::1'], '::1', true],
    [['host.example'], '1.2.3.4', false],
    [['1.2.3.4/33'], '1.2.3.4', false],
  ])('%p vs %p → %p', (patterns, ip, ok) => expect(matchFrom(patterns, ip)).toBe(ok))

  test('findKey honours from=', () => {
    const keys = parseAuthorizedKeys(`from="10.0.0.1" ssh-ed25519 ${ED}`, 'f')
    expect(findKey(keys, blob, '10.0.0.1')).toBeDefined()
    expect(findKey(keys, blob, '10.0.0.2')).toBeUndefined()
    expect(findKey(keys, Buffer.from('other'), '10.0.0.1')).toBeUndefined()
  })
})
