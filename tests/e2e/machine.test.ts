// `machine/NAME` (systemd-machined) and the host-key policy of the drop-in, through the compiled
// binary and the real ssh. systemd-machined cannot run here (no systemd as PID 1): a stand-in
// that answers io.systemd.Machine.List as machined 257 does (tests/support/machined-peer.ts)
// listens in a temp dir, and each command runs in a private mount namespace whose own /run
// links machined's, nspawn's and systemd's fixed paths to the stand-in and a real unix-socket
// sshd. The real /run is never touched, and no vsock is connected (VMs: --resolve only).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { type MachinedPeer, startMachinedPeer } from '../support/machined-peer'
import { startUnixSshd, type TestSshd } from '../support/sshd'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from './fs'
import { BURROW, installFragment, run } from './run'

let dir: string
let sshd: TestSshd
let peer: MachinedPeer
let fragment: string

beforeAll(async () => {
  dir = mkdtempSync('/tmp/bpx-machine-')
  sshd = await startUnixSshd()
  peer = await startMachinedPeer(join(dir, 'io.systemd.Machine'), [
    { name: 'bpx-vm', class: 'vm', service: 'systemd-vmspawn', vSockCid: 4711, leader: 4242 },
    { name: 'bpx-novsock', class: 'vm', service: 'systemd-vmspawn', leader: 4243 },
    {
      name: 'bpx-ct',
      class: 'container',
      service: 'systemd-nspawn',
      leader: 4244,
      rootDirectory: '/var/lib/machines/bpx-ct',
    },
  ])
  fragment = await installFragment(join(dir, 'root'))
})
afterAll(async () => {
  await peer?.stop()
  await sshd?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/**
 * argv in a private mount namespace with a fresh /run: machined's socket (unless `machined` is
 * false), bpx-ct's nspawn export and /run/ssh-unix-local/socket (.host) link to the stand-ins.
 */
function inOwnRun(argv: string[], machined = true) {
  const links = [
    ...(machined ? [[peer.path, '/run/systemd/machine/io.systemd.Machine']] : []),
    [sshd.socketPath, '/run/systemd/nspawn/unix-export/bpx-ct/ssh'],
    [sshd.socketPath, '/run/ssh-unix-local/socket'],
  ]
  const script = [
    'mount -t tmpfs bpx-run /run',
    ...links.map(
      ([from, to]) => `mkdir -p ${to!.slice(0, to!.lastIndexOf('/'))} && ln -s ${from} ${to}`,
    ),
    'exec "$@"',
  ].join(' && ')
  return run(['unshare', '-m', 'sh', '-c', script, 'sh', ...argv])
}

const resolve = (host: string, port = '22', machined = true) =>
  inOwnRun([BURROW, 'proxy', '--resolve', host, port], machined)

describe('burrow proxy --resolve machine/NAME', () => {
  test.each([
    ['machine/bpx-vm', '22', 'vsock/4711 22'],
    ['machine%bpx-vm', '2222', 'vsock/4711 2222'],
    ['machine/bpx-ct', '22', 'unix/run/systemd/nspawn/unix-export/bpx-ct/ssh 22'],
    ['machine%bpx-ct', '22', 'unix/run/systemd/nspawn/unix-export/bpx-ct/ssh 22'],
    ['machine/.host', '22', 'unix/run/ssh-unix-local/socket 22'],
  ])('%s %s resolves to %s', async (host, port, want) => {
    const r = await resolve(host, port)
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe(`${want}\n`)
    expect(r.code).toBe(0)
  })

  test('it asks machined with io.systemd.Machine.List {name}, and not at all for machine/.host', async () => {
    const before = peer.calls.length
    await resolve('machine/.host')
    expect(peer.calls.length).toBe(before)
    await resolve('machine/bpx-vm')
    expect(peer.calls.slice(before)).toEqual([
      { method: 'io.systemd.Machine.List', parameters: { name: 'bpx-vm' } },
    ])
  })

  test.each([
    [
      'machine/bpx-none',
      "Failed to find machine 'bpx-none': systemd-machined has no running machine of that name (see machinectl list)",
    ],
    [
      'machine/bpx-novsock',
      "Failed to connect to machine 'bpx-novsock': it is a VM without an AF_VSOCK CID (start it with a vsock device, e.g. systemd-vmspawn --vsock=yes)",
    ],
    [
      'machine/bad..name',
      "Failed to parse machine name 'bad..name': expected up to 64 letters, digits, -, _ in dot-separated labels, or .host",
    ],
    [
      'machine',
      "Failed to parse host specification 'machine': the separator is missing (expected machine/NAME or machine%NAME)",
    ],
  ])('%s fails with one line', async (host, want) => {
    const r = await resolve(host)
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: `burrow: ${want}\n` })
  })

  test('without machined the socket is named', async () => {
    const r = await resolve('machine/bpx-vm', '22', false)
    expect(r.stderr).toBe(
      'burrow: Failed to ask systemd-machined at /run/systemd/machine/io.systemd.Machine: No such file or directory (is systemd-machined running? machine/NAME needs systemd 257 or later)\n',
    )
    expect(r.code).toBe(1)
  })
})

describe('ssh machine/NAME through the drop-in', () => {
  test.each([
    ['machine/bpx-ct'],
    ['machine%bpx-ct'],
    ['machine/.host'],
    ['machine%.host'],
    ['.host'],
  ])('ssh %s runs a whole session', async (host) => {
    const r = await inOwnRun([
      'ssh',
      '-F',
      sshd.sshConfig(`Include ${fragment}`),
      host,
      'echo',
      'in-machine',
    ])
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('in-machine\n')
  })
})

describe('host keys: recorded and checked for .host and machine/.host, not for throwaway forms', () => {
  let kh: string
  let cfg: string
  beforeAll(() => {
    kh = join(dir, 'known_hosts')
    cfg = join(dir, 'kh_config')
    // accept-new records unknown keys and refuses changed ones: what a user's ssh does after the first yes
    const opts = [
      'BatchMode yes',
      `IdentityFile ${sshd.clientKey}`,
      'IdentitiesOnly yes',
      'User root',
      'StrictHostKeyChecking accept-new',
      `UserKnownHostsFile ${kh}`,
    ]
    writeFileSync(cfg, `Include ${fragment}\nHost *\n${opts.map((o) => `    ${o}\n`).join('')}`)
    writeFileSync(kh, '')
  })

  const ssh = (host: string) => inOwnRun(['ssh', '-F', cfg, host, 'true'])

  test('the first sessions record .host and machine/.host only', async () => {
    for (const host of ['.host', 'machine/.host', 'machine/bpx-ct', `unix%${sshd.socketPath}`]) {
      const r = await ssh(host)
      expect(`${host}: ${r.code}`).toBe(`${host}: 0`)
    }
    const hosts = readFileSync(kh, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0])
      .sort()
    expect(hosts).toEqual(['.host', 'machine/.host'])
  })

  test('a changed key for .host is refused, while throwaway forms still connect', async () => {
    // another key where .host's was: as if something else now answered on that socket
    const other = join(dir, 'other')
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', other])
    const otherKey = readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')
    writeFileSync(kh, `.host ${otherKey}\nmachine/.host ${otherKey}\n`)
    for (const host of ['.host', 'machine/.host']) {
      const r = await ssh(host)
      expect(r.code).toBe(255)
      expect(r.stderr).toContain('Host key verification failed')
    }
    expect((await ssh('machine/bpx-ct')).code).toBe(0)
    expect((await ssh(`unix%${sshd.socketPath}`)).code).toBe(0)
  })
})
