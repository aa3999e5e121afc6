import { describe, expect, test } from 'bun:test'
import { type Environment, targetOf, UnsupportedUriError } from './uri'

const RUN = '/var/run/libvirt'
const env = (
  euid: number,
  exists: string[] = [],
  vars: Record<string, string> = {},
): Environment => ({
  euid,
  env: { HOME: '/home/u', ...vars },
  exists: (p) => exists.includes(p),
})
const root = env(0)
const user = env(1000, [], { XDG_RUNTIME_DIR: '/run/user/1000' })

describe('targetOf', () => {
  test.each([
    ['qemu:///system', root, `${RUN}/libvirt-sock-ro`, 'qemu:///system'],
    [
      'qemu:///system',
      env(0, [`${RUN}/virtqemud-sock-ro`]),
      `${RUN}/virtqemud-sock-ro`,
      'qemu:///system',
    ],
    [
      'qemu:///system',
      env(0, [`${RUN}/libvirt-sock-ro`, `${RUN}/virtqemud-sock-ro`]),
      `${RUN}/virtqemud-sock-ro`,
      'qemu:///system',
    ],
    ['qemu:///system', user, `${RUN}/libvirt-sock-ro`, 'qemu:///system'],
    ['qemu+unix:///system', root, `${RUN}/libvirt-sock-ro`, 'qemu:///system'],
    ['QEMU+UNIX:///system', root, `${RUN}/libvirt-sock-ro`, 'QEMU:///system'],
    [
      'qemu:///system?mode=legacy',
      env(0, [`${RUN}/virtqemud-sock-ro`]),
      `${RUN}/libvirt-sock-ro`,
      'qemu:///system',
    ],
    ['qemu:///system?mode=direct', root, `${RUN}/virtqemud-sock-ro`, 'qemu:///system'],
    ['qemu:///system?socket=/tmp/s', root, '/tmp/s', 'qemu:///system'],
    ['qemu:///system?Socket=%2Ftmp%2Fs%20x', root, '/tmp/s x', 'qemu:///system'],
    ['qemu:///system?socket=/tmp/s&foo=bar;no_tty=1', root, '/tmp/s', 'qemu:///system?foo=bar'],
    ['qemu:///system?name=qemu:///embed', root, `${RUN}/libvirt-sock-ro`, 'qemu:///embed'],
    ['qemu:///session', root, `${RUN}/libvirt-sock-ro`, 'qemu:///session'],
    ['qemu:///session', user, '/run/user/1000/libvirt/libvirt-sock', 'qemu:///session'],
    [
      'qemu:///session',
      env(1000, ['/run/user/1000/libvirt/virtqemud-sock'], { XDG_RUNTIME_DIR: '/run/user/1000' }),
      '/run/user/1000/libvirt/virtqemud-sock',
      'qemu:///session',
    ],
    ['qemu:///session', env(1000), '/home/u/.cache/libvirt/libvirt-sock', 'qemu:///session'],
    [
      'qemu:///session',
      env(1000, [], { XDG_CACHE_HOME: '/c', XDG_RUNTIME_DIR: '' }),
      '/c/libvirt/libvirt-sock',
      'qemu:///session',
    ],
    ['test+unix:///default', root, `${RUN}/libvirt-sock-ro`, 'test:///default'],
    ['test+unix:///default', user, '/run/user/1000/libvirt/libvirt-sock', 'test:///default'],
    ['test:///default', user, `${RUN}/libvirt-sock-ro`, 'test:///default'],
    ['test+unix:///tmp/x.xml#frag', root, `${RUN}/libvirt-sock-ro`, 'test:///tmp/x.xml#frag'],
  ])('%s (euid %#) uses its socket and name', (uri, on, socket, name) => {
    expect(targetOf(uri, on)).toMatchObject({ socket, name })
  })

  test('marks per-user daemons', () => {
    expect(targetOf('qemu:///session', user).user).toBe(true)
    expect(targetOf('qemu:///session', root).user).toBe(false)
  })

  test.each([
    [
      'qemu+ssh://host/system',
      "'qemu+ssh://host/system' names a remote daemon on 'host'; burrow reaches only the local daemon's unix socket (use qemu:///system on that host)",
    ],
    ['qemu://host/system', "names a remote daemon on 'host'"],
    ['qemu+tls:///system', 'names a remote daemon over tls'],
    ['qemu+unix://host/system', "names a remote daemon on 'host'"],
    [
      'qemu+bogus:///system',
      "transport 'bogus' in 'qemu+bogus:///system' is unknown (libvirt knows tls, unix, ssh, libssh2, ext, tcp, libssh)",
    ],
    [
      'qemu:///system?mode=fast',
      "Unknown remote mode 'fast' in 'qemu:///system?mode=fast' (use auto, legacy or direct)",
    ],
    ['/var/run/libvirt/libvirt-sock', 'is not a libvirt URI'],
  ])('refuses %s', (uri, message) => {
    expect(() => targetOf(uri, root)).toThrow(UnsupportedUriError)
    expect(() => targetOf(uri, root)).toThrow(message)
  })
})
