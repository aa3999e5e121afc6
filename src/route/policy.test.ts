import { describe, expect, test } from 'bun:test'
import {
  checkReport,
  identityFrom,
  isAdmin,
  knownTarget,
  mayChange,
  mayConnect,
  ownConnection,
  type Peer,
  refuseRuntimeEnv,
  resumedConnection,
  stickyScope,
  visibleConnection,
  visibleSticky,
} from './policy'
import type { Connection } from './state/types'

const peer = (user: string, uid: number, groups: string[] = []): Peer => ({
  user,
  uid,
  pid: 1,
  groups: () => groups,
})
const root = peer('root', 0)
const alice = peer('alice', 1001, ['alice'])
const admin = peer('adm', 1003, ['adm', 'ops'])
const conn: Connection = {
  id: 'ABCDEF0123',
  user: 'bob',
  service: 's',
  dest: 'h:22',
  from: '192.0.2.1:5',
  sshd: '192.0.2.9:22',
  gateway: 'gw',
  start: 1,
  bwIn: 2,
  bwOut: 3,
}

describe('route policy', () => {
  test.each([
    [root, '', true],
    [root, 'ops', true],
    [alice, 'ops', false],
    [alice, '', false],
    [admin, 'ops', true],
    [admin, '', false],
  ])('isAdmin(%p, group %p) = %p', (p, group, expected) => {
    expect(isAdmin(p, group)).toBe(expected)
  })

  test.each([
    [
      'disable',
      'h:22',
      'ops',
      'Failed to disable h:22: only root and members of group ops may change the routing state; you are alice',
    ],
    [
      'set the banner',
      '',
      'ops',
      'Failed to set the banner: only root and members of group ops may',
    ],
    [
      'forget host',
      'h:22',
      '',
      'Failed to forget host h:22: only root (set state.admin_group to allow a group) may',
    ],
  ] as const)('%p by a user is refused', (op, object, group, message) => {
    expect(() => mayChange(alice, group, op, object)).toThrow(message)
    expect(() => mayChange(admin, 'ops', op, object)).not.toThrow()
  })

  test('identity is the passwd name of the uid, never the environment', () => {
    expect(identityFrom(1001, (uid) => (uid === 1001 ? 'alice' : undefined))).toBe('alice')
    expect(() => identityFrom(4242, () => undefined)).toThrow(
      'Failed to find who is connecting: uid 4242 has no passwd entry',
    )
  })

  test('a registration takes the peer’s user and the service’s gateway and time, whatever it claims', () => {
    const c = ownConnection(
      alice,
      { ...conn, user: 'bob', gateway: 'elsewhere', start: 5 },
      'gw1',
      99,
    )
    expect(c).toMatchObject({ user: 'alice', gateway: 'gw1', start: 99, bwIn: 0, bwOut: 0 })
    expect(() => ownConnection(alice, { ...conn, id: 'x' }, 'gw1', 1)).toThrow(
      'the session id must be 10 hex digits',
    )
    expect(() => ownConnection(alice, { ...conn, from: 'a\nuid=0' }, 'gw1', 1)).toThrow(
      'from must be a printable string',
    )
  })

  test.each([
    ['keeps its own start', 5, false, { user: 'alice', start: 5 }],
    ['a start in the future becomes now', 1000, false, { user: 'alice', start: 99 }],
    ['no start becomes now', undefined, false, { user: 'alice', start: 99 }],
    [
      'an id a live connection holds is refused',
      5,
      true,
      'session ABCDEF0123 is held by a live connection',
    ],
  ] as const)('resume: %s', (_name, start, held, expected) => {
    const claimed = { ...conn, user: 'bob', start: start as number | undefined }
    if (typeof expected === 'string')
      expect(() => resumedConnection(alice, claimed, 'gw1', 99, held)).toThrow(expected)
    else expect(resumedConnection(alice, claimed, 'gw1', 99, held)).toMatchObject(expected)
  })

  test('reads: users see their own rows in full, others only as load on a host', () => {
    expect(visibleConnection(admin, true, conn)).toEqual(conn)
    expect(visibleConnection(peer('bob', 1002), false, conn)).toEqual(conn)
    expect(visibleConnection(alice, false, conn)).toEqual({
      ...conn,
      id: '',
      user: '',
      from: '',
      sshd: '',
      gateway: '',
    })
    const s = { user: 'bob', service: 's', dest: 'h:22', expire: 1 }
    expect([
      visibleSticky(alice, false, s),
      visibleSticky(admin, true, s),
      visibleSticky(peer('bob', 1002), false, s),
    ]).toEqual([false, true, true])
  })

  test('sticky: a user forgets only their own entries', () => {
    expect(stickyScope(alice, false, {})).toEqual({ user: 'alice' })
    expect(stickyScope(alice, false, { user: 'alice' })).toEqual({ user: 'alice' })
    expect(() => stickyScope(alice, false, { user: 'bob' })).toThrow(
      'Failed to forget sticky entries of bob',
    )
    expect(stickyScope(admin, true, { user: 'bob' })).toEqual({ user: 'bob' })
    expect(stickyScope(admin, true, {})).toEqual({})
  })

  test('host checks: admins store, sessions only ask the service to probe a configured host', () => {
    const known = new Set(['h:22'])
    expect(checkReport(true, 'x:22', known)).toBe('store')
    expect(checkReport(false, 'h:22', known)).toBe('verify')
    expect(() => checkReport(false, 'x:22', known)).toThrow('it is not a destination')
  })

  test('registrations and sticky entries name only services and destinations of the config', () => {
    const services = new Set(['default'])
    const dests = new Set(['h:22'])
    expect(() => knownTarget('default', 'h:22', services, dests)).not.toThrow()
    expect(() => knownTarget('mine', 'h:22', services, dests)).toThrow(
      "Failed to use service 'mine': it is not a service",
    )
    expect(() => knownTarget('default', 'x:22', services, dests)).toThrow(
      'Failed to use destination x:22: it is not a destination',
    )
  })

  test.each([
    [{ BUN_OPTIONS: '--smol' }, 'BUN_OPTIONS is set'],
    [{ BUN_BE_BUN: '1' }, 'BUN_BE_BUN is set'],
    [{ BUN_OPTIONS: '', BUN_BE_BUN: '' }, 'BUN_OPTIONS and BUN_BE_BUN are set'],
  ])('refuses the Bun runtime variables %p', (env, message) => {
    expect(() => refuseRuntimeEnv(env)).toThrow(message)
  })

  test('limits on clients, in all and per uid; root is only bound by the total', () => {
    expect(mayConnect(0, 0, 1001)).toBeUndefined()
    expect(mayConnect(10, 128, 1001)).toContain('uid 1001 has 128 open connections')
    expect(mayConnect(10, 500, 0)).toBeUndefined()
    expect(mayConnect(2048, 0, 0)).toContain('2048 clients')
  })
})
