import { describe, expect, test } from 'bun:test'
import type { KeyOptions } from './auth/authorized-keys'
import { defaultKeyOptions, parseKeyOptions } from './auth/authorized-keys'
import type { KeyHolder } from './policy'
import {
  accountRefusal,
  keyEnvironment,
  keyRefusal,
  listenRefusal,
  mayAllocatePty,
  mayForwardAgent,
  mayForwardX11,
  openRefusal,
  sessionCommand,
  skSignatureRefusal,
  socketRefusal,
} from './policy'

const DAY = 86_400_000
const NOW = Date.UTC(2026, 0, 10, 12)
const today = Math.floor(NOW / DAY)

/** a key holder with the options of `text` (comma-separated, as in authorized_keys) */
function holder(text: string): KeyHolder {
  const parts = text ? text.match(/(?:[^,"]+|"[^"]*")+/g)! : []
  const options = parseKeyOptions(parts) as KeyOptions
  if (typeof options === 'string') throw new Error(options)
  return { key: { options, origin: 'k:1' } }
}
const noKey: KeyHolder = {}

describe('accounts', () => {
  test.each([
    [{ locked: false }, undefined],
    [{ locked: true }, "account 'u' is locked"],
    [{ locked: false, expireDay: 0 }, "account 'u' has expired"],
    [{ locked: false, expireDay: today - 1 }, "account 'u' has expired"],
    // sshd: expired only once today is past the expiry day
    [{ locked: false, expireDay: today }, undefined],
    [{ locked: false, expireDay: today + 1 }, undefined],
    [{ locked: true, expireDay: 0 }, "account 'u' is locked"],
  ])('%p → %p', (status, want) => expect(accountRefusal('u', status, NOW)).toBe(want))
})

describe('key source and expiry', () => {
  test.each([
    ['', '127.0.0.2', undefined],
    ['from="127.0.0.1"', '127.0.0.1', undefined],
    ['from="127.0.0.1"', '127.0.0.2', 'from= does not allow 127.0.0.2'],
    ['expiry-time="20260110Z"', '127.0.0.1', 'expired at 2026-01-10T00:00:00.000Z (expiry-time)'],
    ['expiry-time="20260111Z"', '127.0.0.1', undefined],
  ])('%p from %p → %p', (opts, ip, want) => {
    expect(keyRefusal(holder(opts).key!, ip, NOW)).toBe(want)
  })
})

describe('security key flags (sshd: touch required unless no-touch-required)', () => {
  const presence =
    'the security key signature lacks user presence (no touch; the key line has no no-touch-required)'
  const verification = 'the security key signature lacks user verification (verify-required)'
  test.each([
    ['', 1, undefined],
    ['', 0, presence],
    ['', 4, presence],
    ['restrict', 0, presence],
    ['no-touch-required', 0, undefined],
    ['verify-required', 1, verification],
    ['verify-required', 5, undefined],
    ['verify-required', 4, presence],
    ['verify-required,no-touch-required', 4, undefined],
  ])('%p with flags %p → %p', (opts, flags, want) => {
    expect(skSignatureRefusal(holder(opts).key!, flags)).toBe(want)
  })
})

describe('session requests', () => {
  test.each<[string, { pty: boolean; agent: boolean }]>([
    ['', { pty: true, agent: true }],
    ['restrict', { pty: false, agent: false }],
    ['restrict,pty', { pty: true, agent: false }],
    ['restrict,agent-forwarding', { pty: false, agent: true }],
    ['no-pty', { pty: false, agent: true }],
    ['no-agent-forwarding', { pty: true, agent: false }],
  ])('%p', (opts, want) => {
    const h = holder(opts)
    expect({ pty: mayAllocatePty(h), agent: mayForwardAgent(h) }).toEqual(want)
    expect(mayForwardX11(h)).toBe(false)
  })

  test('without a key (password, --noauth) nothing is restricted but X11', () => {
    expect([mayAllocatePty(noKey), mayForwardAgent(noKey), mayForwardX11(noKey)]).toEqual([
      true,
      true,
      false,
    ])
  })

  test.each<[string, string | undefined, ReturnType<typeof sessionCommand>]>([
    ['', 'ls', { command: 'ls', env: {}, forced: false }],
    ['', undefined, { command: undefined, env: {}, forced: false }],
    [
      'command="date"',
      'ls -l',
      { command: 'date', env: { SSH_ORIGINAL_COMMAND: 'ls -l' }, forced: true },
    ],
    ['command="date"', undefined, { command: 'date', env: {}, forced: true }],
    [
      'command="date"',
      'sftp',
      { command: 'date', env: { SSH_ORIGINAL_COMMAND: 'sftp' }, forced: true },
    ],
  ])('%p with request %p', (opts, requested, want) => {
    expect(sessionCommand(holder(opts), requested)).toEqual(want)
  })

  test.each<[string, boolean, Record<string, string>]>([
    ['environment="A=1",environment="A=2",environment="B=x"', true, { A: '1', B: 'x' }],
    ['environment="A=1"', false, {}],
    ['', true, {}],
  ])('environment %p permitted=%p', (opts, permit, want) => {
    expect(keyEnvironment(holder(opts), permit)).toEqual(want)
  })
})

describe('forwarding', () => {
  test.each<[string, string, number, boolean]>([
    ['', '10.1.1.1', 80, true],
    ['no-port-forwarding', '127.0.0.1', 22, false],
    ['restrict', 'vsock%4711', 22, false],
    ['restrict,port-forwarding', '127.0.0.1', 22, true],
    ['permitopen="127.0.0.1:8080"', '127.0.0.1', 8080, true],
    ['permitopen="127.0.0.1:8080"', '127.0.0.1', 8081, false],
    ['permitopen="127.0.0.1:8080"', 'localhost', 8080, false],
    ['permitopen="DB:5432"', 'db', 5432, true],
    ['permitopen="db:*"', 'db', 1, true],
    ['permitopen="*:443"', 'anything', 443, true],
    ['permitopen="*:443"', 'anything', 80, false],
    ['permitopen="d*:1"', 'db', 1, false],
    ['permitopen="unix%/run/x.sock:22"', 'unix%/run/x.sock', 22, true],
  ])('open: %p → %p:%p allowed=%p', (opts, host, port, ok) => {
    expect(openRefusal(holder(opts), host, port) === undefined).toBe(ok)
  })

  test.each<[string, string, number, boolean]>([
    ['', 'localhost', 8080, true],
    ['no-port-forwarding', 'localhost', 8080, false],
    ['permitlisten="8080"', 'localhost', 8080, true],
    ['permitlisten="8080"', '0.0.0.0', 8080, true],
    ['permitlisten="8080"', 'localhost', 8081, false],
    ['permitlisten="8080"', 'localhost', 0, false],
    ['permitlisten="local*:8080"', 'localhost', 8080, true],
    ['permitlisten="localhost:8080"', '0.0.0.0', 8080, false],
    ['permitlisten="localhost:*"', 'localhost', 0, true],
  ])('listen: %p → %p:%p allowed=%p', (opts, host, port, ok) => {
    expect(listenRefusal(holder(opts), host, port) === undefined).toBe(ok)
  })

  test.each<[string, boolean]>([
    ['', true],
    ['permitopen="h:1",permitlisten="2"', true],
    ['no-port-forwarding', false],
    ['restrict', false],
  ])('unix sockets: %p allowed=%p', (opts, ok) => {
    expect(socketRefusal(holder(opts)) === undefined).toBe(ok)
  })

  test('without a key every forward is allowed by the key rules', () => {
    expect([
      openRefusal(noKey, 'h', 1),
      listenRefusal(noKey, 'h', 1),
      socketRefusal(noKey),
    ]).toEqual([undefined, undefined, undefined])
    expect(defaultKeyOptions().portForwarding).toBe(true)
  })
})
