import { describe, expect, test } from 'bun:test'
import { formatTarget, LoginError, parseLogin, splitLogin } from './login'

const L = (o: Record<string, unknown>) => ({
  kind: 'login',
  persistent: false,
  remote: '',
  instanceUser: 'root',
  instance: '',
  project: 'default',
  hostUser: 'root',
  ...o,
})
const C = (o: Record<string, unknown>) => ({
  kind: 'create',
  ephemeral: false,
  remote: '',
  instance: '',
  project: 'default',
  nest: false,
  priv: false,
  vm: false,
  hostUser: 'root',
  ...o,
})

describe('splitLogin follows v0.7 cut order', () => {
  test.each([
    ['c1', L({ instance: 'c1' })],
    ['alice@c1', L({ instanceUser: 'alice', instance: 'c1' })],
    [
      'alice@c1.dev+bob',
      L({ instanceUser: 'alice', instance: 'c1', project: 'dev', hostUser: 'bob' }),
    ],
    [
      'rem:alice@c1.dev+bob',
      L({ remote: 'rem', instanceUser: 'alice', instance: 'c1', project: 'dev', hostUser: 'bob' }),
    ],
    ['/c1', L({ persistent: true, instance: 'c1' })],
    ['', L({})],
    ['.proj', L({ project: 'proj' })],
    ['inst.', L({ instance: 'inst' })],
    ['inst.a.b', L({ instance: 'inst', project: 'a.b' })],
    ['a@b@inst', L({ instanceUser: 'a', instance: 'b@inst' })],
    ['user@remote:inst', L({ remote: 'user@remote', instance: 'inst' })],
    ['inst+bob:x', L({ remote: 'inst+bob', instance: 'x' })],
    ['/%shell', L({ persistent: true, command: 'shell', instanceUser: '', project: '' })],
    ['%shell+bob', L({ command: 'shell', instanceUser: '', project: '', hostUser: 'bob' })],
    ['local:%shell', L({ remote: 'local', command: 'shell', instanceUser: '', project: '' })],
    ['inst+', L({ instance: 'inst', hostUser: '' })],
    [
      '/u@Inst.Proj+Bob',
      L({
        persistent: true,
        instanceUser: 'u',
        instance: 'Inst',
        project: 'Proj',
        hostUser: 'Bob',
      }),
    ],
  ])('%p', (login, want) => {
    expect(splitLogin(login)).toEqual(want as never)
  })
})

describe('creation form', () => {
  test.each([
    ['+box', C({ instance: 'box' })],
    ['~box', C({ ephemeral: true, instance: 'box' })],
    ['+rem:box.dev', C({ remote: 'rem', instance: 'box', project: 'dev' })],
    ['+box.', C({ instance: 'box' })],
    [
      '+box+debian/12+m4+c2+d10',
      C({ instance: 'box', image: 'debian/12', memoryGiB: 4, cpus: 2, diskGiB: 10 }),
    ],
    ['+box+nest+priv+vm', C({ instance: 'box', nest: true, priv: true, vm: true })],
    ['+box+n+p+e+v', C({ instance: 'box', nest: true, priv: true, vm: true, ephemeral: true })],
    ['+box+m2+m8', C({ instance: 'box', memoryGiB: 8 })],
    ['+box+m0+d0', C({ instance: 'box', memoryGiB: 0, diskGiB: 0 })],
    ['+box++c1', C({ instance: 'box', cpus: 1 })],
    [
      '+box+ubuntu/24.04/cloud+bob',
      C({ instance: 'box', image: 'ubuntu/24.04/cloud', hostUser: 'bob' }),
    ],
    ['+box+debian', C({ instance: 'box', hostUser: 'debian' })],
    ['+alice@box', C({ instance: 'alice@box' })],
  ])('%p', (login, want) => {
    expect(splitLogin(login)).toEqual(want as never)
  })

  test('an unknown option before the last is kept as the reason to refuse, not dropped', () => {
    const t = splitLogin('+box+mem4+c2')
    expect(t.kind === 'create' && t.invalid).toMatch(/unknown option 'mem4'/)
  })
})

describe('parseLogin validates', () => {
  test.each([
    ['c1', 'root@c1+root'],
    ['alice@c1.dev+bob', 'alice@c1.dev+bob'],
    ['rem:c-2.my_proj', 'rem:root@c-2.my_proj+root'],
    ['/c1', '/root@c1+root'],
    ['%shell', '%shell+root'],
    ['+box+debian/12', '+box'],
    ['www-data@web', 'www-data@web+root'],
    ['a'.repeat(63), `root@${'a'.repeat(63)}+root`],
    [':c1', 'root@c1+root'],
  ])('%p is accepted', (login, canonical) => {
    expect(formatTarget(parseLogin(login))).toBe(canonical)
  })

  test.each([
    ['', 'empty login'],
    ['x'.repeat(257), 'longer than 256'],
    ['c1\n', 'control'],
    ['c1\x00', 'control'],
    ['c1\x1b[2J', 'control'],
    ['c 1', 'control, space'],
    ['cé', 'non-ASCII'],
    ['.proj', 'empty instance name'],
    ['a@b@inst', "invalid instance name 'b@inst'"],
    ['user@remote:inst', "invalid remote 'user@remote'"],
    ['inst+', 'empty host user'],
    ['1abc', 'invalid instance name'],
    ['-abc', 'invalid instance name'],
    ['abc-', 'invalid instance name'],
    ['a'.repeat(64), 'invalid instance name'],
    ['c1.../etc', "invalid project name '../etc'"],
    ['c1./', "invalid project name '/'"],
    ['../../etc/passwd@c1', 'invalid instance user'],
    ['c1+../../root', 'invalid host user'],
    ['c1+-oProxyCommand=x', 'invalid host user'],
    ['$(reboot)@c1', 'invalid instance user'],
    ['`id`@c1', 'invalid instance user'],
    ['c1;rm', "invalid instance name 'c1;rm'"],
    ['c1%2e', 'invalid instance name'],
    ['%bash', "unknown command '%bash'"],
    ['+', 'empty instance name'],
    ['+box+x;y/z', 'invalid image'],
    ['rem:', 'empty instance name'],
  ])('%p is refused', (login, reason) => {
    let err: unknown
    try {
      parseLogin(login)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(LoginError)
    expect((err as Error).message).toContain(reason)
  })
})
