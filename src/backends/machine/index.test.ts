import { describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { startMachinedPeer } from '../../../tests/support/machined-peer'
import { runBackendContract } from '../../proxy/backend.case'
import { expectHello, helloUnix } from '../../proxy/testing'
import { backend, paths, resolveMachine, validMachineName } from '.'

const m = (name: string, port = 22) => ({ kind: 'machine' as const, name, port })

/** A machined stand-in (tests/support/machined-peer.ts) and an nspawn export dir, for this process only. */
async function withMachined<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync('/tmp/bpx-machined-')
  const peer = await startMachinedPeer(join(dir, 'io.systemd.Machine'), [
    { name: 'bpx-vm', class: 'vm', service: 'systemd-vmspawn', vSockCid: 4711, leader: 4242 },
    { name: 'bpx-novsock', class: 'vm', service: 'systemd-vmspawn', leader: 4243 },
    {
      name: 'bpx-ct',
      class: 'container',
      service: 'systemd-nspawn',
      leader: 4244,
      rootDirectory: '/var/lib/machines/bpx-ct',
    },
    { name: 'bpx-docker', class: 'container', service: 'docker', leader: 4245 },
  ])
  const saved = { ...paths }
  paths.machined = peer.path
  paths.unixExport = join(dir, 'unix-export')
  try {
    return await fn(dir)
  } finally {
    Object.assign(paths, saved)
    await peer.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

runBackendContract({
  backend,
  valid: [
    ['machine/bpx-vm', '22', m('bpx-vm')],
    ['machine%bpx-vm', '2222', m('bpx-vm', 2222)],
    ['machine/MyVM.local', '22', m('MyVM.local')],
    ['machine/.host', '22', m('.host')],
    ['machine%.host', '22', m('.host')],
    ['machine/a_b-c', '4294967294', m('a_b-c', 4294967294)],
  ],
  foreign: ['machines/x', 'machine', 'vsock/3', 'unix/run/x', 'qemu/vm', '.host', 'example.org'],
  invalid: [
    ['machine/', '22', "parse machine name ''"],
    ['machine/a/b', '22', "parse machine name 'a/b'"],
    ['machine/a..b', '22', 'dot-separated labels'],
    ['machine/x.', '22', 'dot-separated labels'],
    [`machine/${'x'.repeat(65)}`, '22', 'up to 64'],
    ['machine/vm', '4294967295', 'VMADDR_PORT_ANY'],
  ],
  live: {
    // an nspawn container's exported sshd socket, found through the machined stand-in
    open: async () => {
      const target = helloUnix()
      const dir = mkdtempSync('/tmp/bpx-machined-')
      const peer = await startMachinedPeer(join(dir, 'm'), [
        { name: 'bpx-ct', class: 'container', service: 'systemd-nspawn' },
      ])
      mkdirSync(join(dir, 'export', 'bpx-ct'), { recursive: true })
      symlinkSync(target.path, join(dir, 'export', 'bpx-ct', 'ssh'))
      const saved = { ...paths }
      paths.machined = peer.path
      paths.unixExport = join(dir, 'export')
      return {
        address: m('bpx-ct'),
        check: expectHello,
        stop: async () => {
          Object.assign(paths, saved)
          await peer.stop()
          await target.stop()
          rmSync(dir, { recursive: true, force: true })
        },
      }
    },
  },
})

describe('validMachineName (machined: hostname_is_valid with VALID_HOSTNAME_DOT_HOST)', () => {
  test.each([
    ['vm', true],
    ['.host', true],
    ['Fedora-40_x', true],
    ['a.b.c', true],
    ['x'.repeat(64), true],
    ['x'.repeat(65), false],
    ['', false],
    ['.x', false],
    ['x.', false],
    ['a..b', false],
    ['a b', false],
    ['a/b', false],
  ])('%p: %p', (name, ok) => expect(validMachineName(name)).toBe(ok))
})

describe('resolveMachine against the machined stand-in', () => {
  test.each([
    ['bpx-vm', { kind: 'vsock', cid: 4711, port: 22 }],
    ['bpx-ct', { kind: 'unix', path: 'EXPORT/bpx-ct/ssh', port: 22 }],
    ['.host', { kind: 'unix', path: '/run/ssh-unix-local/socket', port: 22 }],
  ])('%p resolves to %p', async (name, want) => {
    await withMachined(async (dir) => {
      const got = await resolveMachine(m(name))
      const w = {
        ...want,
        ...('path' in want ? { path: want.path.replace('EXPORT', join(dir, 'unix-export')) } : {}),
      }
      expect(got).toEqual(w as never)
    })
  })

  test.each([
    [
      'bpx-none',
      "Failed to find machine 'bpx-none': systemd-machined has no running machine of that name (see machinectl list)",
    ],
    [
      'bpx-novsock',
      "Failed to connect to machine 'bpx-novsock': it is a VM without an AF_VSOCK CID",
    ],
    [
      'bpx-docker',
      "Failed to connect to machine 'bpx-docker': it is a container of 'docker', not systemd-nspawn",
    ],
  ])('%p fails with one line', async (name, want) => {
    await withMachined(async () => {
      await expect(resolveMachine(m(name))).rejects.toThrow(want)
    })
  })

  test('a missing machined is named, with what to check', async () => {
    const saved = paths.machined
    paths.machined = '/nonexistent/io.systemd.Machine'
    try {
      await expect(resolveMachine(m('vm'))).rejects.toThrow(
        'Failed to ask systemd-machined at /nonexistent/io.systemd.Machine: No such file or directory (is systemd-machined running? machine/NAME needs systemd 257 or later)',
      )
    } finally {
      paths.machined = saved
    }
  })
})
