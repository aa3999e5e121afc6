import { describe, expect, test } from 'bun:test'
import type { KeyOptions } from './authorized-keys'
import { matchFrom } from './patterns'
import {
  defaultKeyOptions,
  findKeys,
  parseAuthorizedKeys,
  parseExpiry,
  parseHostPort,
  parseKeyOptions,
  splitOptions,
} from './authorized-keys'

const ED = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'
const blob = Buffer.from(ED, 'base64')
const off = { portForwarding: false, agentForwarding: false, x11Forwarding: false, pty: false }

describe('parseAuthorizedKeys', () => {
  test('plain keys, comments and blank lines', () => {
    const keys = parseAuthorizedKeys(`# c\n\nssh-ed25519 ${ED} me@host\n`, 'f')
    expect(keys).toEqual([
      {
        type: 'ssh-ed25519',
        blob,
        text: `ssh-ed25519 ${ED}`,
        options: defaultKeyOptions(),
        origin: 'f:3',
      },
    ])
  })

  test.each<[string, Partial<KeyOptions>]>([
    ['restrict', off],
    ['restrict,pty', { ...off, pty: true }],
    [
      'restrict,port-forwarding,agent-forwarding',
      { ...off, portForwarding: true, agentForwarding: true },
    ],
    // order matters as in sshd: restrict after pty turns it off again
    ['pty,restrict', off],
    ['RESTRICT,No-Pty', off],
    ['no-pty', { pty: false, portForwarding: true }],
    ['no-port-forwarding', { portForwarding: false, pty: true }],
    ['no-agent-forwarding', { agentForwarding: false }],
    ['no-X11-forwarding', { x11Forwarding: false }],
    ['no-user-rc,tunnel="0"', defaultKeyOptions()],
    ['no-touch-required', { touchRequired: false, verifyRequired: false }],
    ['verify-required,restrict', { touchRequired: true, verifyRequired: true, pty: false }],
    ['from="10.0.0.0/8,!10.9.9.9"', { from: ['10.0.0.0/8', '!10.9.9.9'] }],
    ['command="echo \\"a, b\\""', { command: 'echo "a, b"' }],
    ['command=""', { command: '' }],
    [
      'environment="A=b",environment="C=d=e"',
      {
        environment: [
          ['A', 'b'],
          ['C', 'd=e'],
        ],
      },
    ],
    ['expiry-time="20000101Z"', { expiresAt: Date.UTC(2000, 0, 1) }],
    ['expiry-time="20300101Z",expiry-time="20250101Z"', { expiresAt: Date.UTC(2025, 0, 1) }],
    [
      'permitopen="127.0.0.1:80",permitopen="[::1]:22",permitopen="*:443",permitopen="db:*"',
      {
        permitOpen: [
          { host: '127.0.0.1', port: 80 },
          { host: '::1', port: 22 },
          { host: '*', port: 443 },
          { host: 'db' },
        ],
      },
    ],
    [
      'permitlisten="8080",permitlisten="localhost:9000",permitlisten="*:*"',
      {
        permitListen: [{ host: '*', port: 8080 }, { host: 'localhost', port: 9000 }, { host: '*' }],
      },
    ],
  ])('options %p', (opts, want) => {
    const keys = parseAuthorizedKeys(`${opts} ssh-ed25519 ${ED} c`, 'f')
    expect(keys).toHaveLength(1)
    expect(keys[0]!.options).toMatchObject(want)
  })

  test.each([
    [`cert-authority ssh-ed25519 ${ED}`, 'not supported'],
    [`principals="a" ssh-ed25519 ${ED}`, 'not supported'],
    [`no-such-option ssh-ed25519 ${ED}`, 'unknown option'],
    [`command="a",command="b" ssh-ed25519 ${ED}`, "more than one 'command'"],
    [`from="a",from="b" ssh-ed25519 ${ED}`, "more than one 'from'"],
    [`command=unquoted ssh-ed25519 ${ED}`, 'double-quoted'],
    [`command="open ssh-ed25519 ${ED}`, 'missing end quote'],
    [`expiry-time="2025" ssh-ed25519 ${ED}`, 'bad expiry-time'],
    [`expiry-time="20250231" ssh-ed25519 ${ED}`, 'bad expiry-time'],
    [`environment="1A=b" ssh-ed25519 ${ED}`, 'bad environment'],
    [`environment="noequals" ssh-ed25519 ${ED}`, 'bad environment'],
    [`permitopen="host" ssh-ed25519 ${ED}`, 'bad permitopen'],
    [`permitopen="h:0" ssh-ed25519 ${ED}`, 'bad permitopen'],
    [`permitopen="h:70000" ssh-ed25519 ${ED}`, 'bad permitopen'],
    [`permitlisten="a:b:1" ssh-ed25519 ${ED}`, 'bad permitlisten'],
    ['ssh-ed25519', 'not a public key line'],
    ['garbage line here', 'not a public key line'],
  ])('%p is skipped with one warning', (line, why) => {
    const warnings: string[] = []
    expect(parseAuthorizedKeys(line, 'f', (m) => warnings.push(m))).toEqual([])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(why)
  })

  test('a bad line does not hide the good ones around it', () => {
    const keys = parseAuthorizedKeys(`bogus ssh-ed25519 ${ED}\nno-pty ssh-ed25519 ${ED}\n`, 'f')
    expect(keys.map((k) => k.origin)).toEqual(['f:2'])
  })
})

describe('option pieces', () => {
  test.each<[string, ReturnType<typeof splitOptions>]>([
    ['a,b="x,y" rest', [['a', 'b="x,y"'], 'rest']],
    ['a="q\\"z" rest', [['a="q\\"z"'], 'rest']],
    ['a="open', 'missing end quote'],
  ])('splitOptions(%p)', (line, want) => expect(splitOptions(line)).toEqual(want))

  test.each<[string, number | undefined]>([
    ['20250102Z', Date.UTC(2025, 0, 2)],
    ['202501021314Z', Date.UTC(2025, 0, 2, 13, 14)],
    ['20250102131415Z', Date.UTC(2025, 0, 2, 13, 14, 15)],
    ['20250102', new Date(2025, 0, 2).getTime()],
    ['20251301Z', undefined],
    ['2025010213Z', undefined],
    ['tomorrow', undefined],
  ])('parseExpiry(%p)', (v, want) => expect(parseExpiry(v)).toBe(want))

  test.each<[string, boolean, ReturnType<typeof parseHostPort>]>([
    ['h:22', false, { host: 'h', port: 22 }],
    ['22', false, undefined],
    ['22', true, { host: '*', port: 22 }],
    ['*', true, { host: '*' }],
    ['[fe80::1]:22', false, { host: 'fe80::1', port: 22 }],
    ['fe80::1:22', false, undefined],
    [':22', false, undefined],
  ])('parseHostPort(%p, bare=%p)', (v, bare, want) => expect(parseHostPort(v, bare)).toEqual(want))

  test('parseKeyOptions returns the first error', () => {
    expect(parseKeyOptions(['no-pty', 'bogus', 'restrict'])).toBe("unknown option 'bogus'")
  })
})

describe('from= patterns', () => {
  test.each([
    [['127.0.0.1'], '127.0.0.1', true],
    [['127.0.0.1'], '127.0.0.2', false],
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

  test('findKeys returns every entry of that key, in file order', () => {
    const keys = parseAuthorizedKeys(
      `from="10.0.0.1" ssh-ed25519 ${ED}\nno-pty ssh-ed25519 ${ED}`,
      'f',
    )
    expect(findKeys(keys, blob).map((k) => k.origin)).toEqual(['f:1', 'f:2'])
    expect(findKeys(keys, Buffer.from('other'))).toEqual([])
  })
})
