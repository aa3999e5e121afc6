// The "Incus reach and forwarding" rules of policy.ts as a table; the e2e proofs with real users,
// Incus and ssh are in tests/serve/authz.test.ts.
import { describe, expect, test } from 'bun:test'
import type { Account } from './auth/accounts'
import type { Login } from './auth/login'
import {
  connectAs,
  incusAccess,
  jumpAs,
  listenInside,
  mayReachInstance,
  mayUseIncusShell,
  privilegedPortRefusal,
  mayUseRemote,
  projectFor,
} from './policy'

const groups = { admin: new Set([992]), user: new Set([993]) }
const acct = (name: string, uid: number, gids: number[]): Account => ({
  name,
  uid,
  gid: gids[0]!,
  home: `/home/${name}`,
  shell: '/bin/sh',
  gids,
})
const login = (instance: string, project = 'default', remote = ''): Login => ({
  kind: 'login',
  persistent: false,
  remote,
  instanceUser: 'alice',
  instance,
  project,
  hostUser: 'root',
})

const root = acct('root', 0, [0])
const adm = acct('ann', 1001, [1001, 992])
const inc = acct('ian', 1002, [1002, 993])
const both = acct('bo', 1003, [1003, 993, 992])
const out = acct('oz', 1004, [1004, 27])

describe('incusAccess: whose Incus rights a login carries', () => {
  test.each([
    ['root', root, 'admin'],
    ['incus-admin member', adm, 'admin'],
    ['incus and incus-admin member', both, 'admin'],
    ['incus member', inc, 'user'],
    ['member of neither', out, 'none'],
  ] as const)('%s → %s', (_, a, kind) => {
    expect(incusAccess({ account: a, target: login('c') }, groups).kind).toBe(kind)
  })
  test('an incus member gets project user-<uid>', () => {
    expect(incusAccess({ account: inc, target: login('c') }, groups)).toMatchObject({
      project: 'user-1002',
    })
  })
  test('no host account (--inauth) → its own instance only; a %command → nothing', () => {
    expect(incusAccess({ target: login('c') }, groups).kind).toBe('instance')
    const cmd: Login = { ...login(''), command: 'shell' }
    expect(incusAccess({ target: cmd }, groups).kind).toBe('none')
  })
})

describe('the other rules', () => {
  const a = (x: Account) => incusAccess({ account: x, target: login('c') }, groups)
  const own = incusAccess({ target: login('c', 'p') }, groups)

  test.each([
    ['incus member, no project', a(inc), 'default', 'user-1002'],
    ['incus member, other project', a(inc), 'p', 'p'],
    ['admin, no project', a(adm), 'default', 'default'],
  ] as const)('projectFor: %s', (_, acc, p, want) => expect(projectFor(acc, p)).toBe(want))

  test.each([
    [a(root), 'remote1', true],
    [a(adm), 'remote1', false],
    [a(inc), 'remote1', false],
    [a(inc), 'local', true],
    [a(inc), '', true],
  ] as const)('mayUseRemote %#', (acc, remote, ok) =>
    expect(mayUseRemote(acc, remote) === undefined).toBe(ok),
  )

  test.each([
    [own, '', 'c', 'p', true],
    [own, 'local', 'c', 'p', true],
    [own, '', 'c', 'default', false],
    [own, '', 'd', 'p', false],
    [a(inc), '', 'd', 'x', true], // Incus decides for certificate users
    [a(out), '', 'c', 'default', false],
  ] as const)('mayReachInstance %#', (acc, r, i, p, ok) =>
    expect(mayReachInstance(acc, r, i, p) === undefined).toBe(ok),
  )

  test('%shell: host root only', () => {
    expect(mayUseIncusShell(a(root))).toBeUndefined()
    for (const x of [adm, inc, out]) expect(mayUseIncusShell(a(x))).toBeString()
  })

  test('jumps run as the host account; none for --inauth identities or non-members', () => {
    expect(jumpAs(a(inc))).toEqual({ account: inc })
    expect(jumpAs(a(root))).toEqual({ account: root })
    expect(jumpAs(own)).toHaveProperty('refused')
    expect(jumpAs(a(out))).toHaveProperty('refused')
  })

  test('inside the instance: connect as the instance user; -R paths made by the user unless root', () => {
    expect(connectAs({ uid: 1000, gid: 1000 })).toEqual({ uid: 1000, gid: 1000 })
    expect(listenInside({ uid: 0 })).toBe('as-root')
    expect(listenInside({ uid: 1000 })).toBe('as-user')
  })
})

describe('privilegedPortRefusal (-R below 1024 only for a root instance user)', () => {
  test.each([
    [0, 80, false],
    [0, 0, false],
    [1000, 80, true],
    [1000, 1023, true],
    [1000, 1024, false],
    [1000, 0, false],
  ])('uid %d, port %d: refused %p', (uid, port, refused) => {
    expect(privilegedPortRefusal({ uid }, port) !== undefined).toBe(refused)
  })
})
