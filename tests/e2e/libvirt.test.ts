// `burrow proxy qemu…` against the real libvirtd (qemu:///system), through the binary and through
// ssh. Domains are defined and never started: there is no KVM here, and a vsock connect would leave
// the sandbox, so every non-error case uses --resolve. Lookup by ID needs a running domain, which
// is impossible here; src/backends/libvirt/lookup.test.ts covers it with libvirtd's test driver.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { existsSync, mkdtempSync, randomBytes, readFileSync, rmSync, writeFileSync } from './fs'
import { BURROW, burrow, installFragment, run } from './run'

const SYSTEM = 'qemu:///system'
// bpx-: the prefix of the session that added the not-running refusal (shared libvirtd)
const P = `bpx-t-${process.pid}-${randomBytes(3).toString('hex')}-`
const UUID = randomUUID()
const EMULATOR = ['/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-system-aarch64'].find(existsSync)
const ARCH = EMULATOR?.endsWith('aarch64') ? 'aarch64' : 'x86_64'

const explicit = (cid: number) => `<vsock model='virtio'><cid auto='no' address='${cid}'/></vsock>`
const DOMAINS: [name: string, devices: string, uuid?: string][] = [
  [`${P}vm-1`, explicit(4711)],
  [`${P}vm-2`, explicit(4712)],
  [`${P}vm-3`, "<vsock model='virtio'><cid auto='yes'/></vsock>"],
  [`${P}MixedCaseVM`, explicit(4713)],
  [`${P}by-uuid`, explicit(4714), UUID],
  [`${P}novsock`, ''],
  [`${P}Dup`, explicit(4715)],
  [`${P}DUP`, explicit(4716)],
]

const virsh = (args: string[]) =>
  spawnSync('virsh', ['-q', '-c', SYSTEM, ...args], { encoding: 'utf8' })

function domainXML(name: string, devices: string, uuid?: string): string {
  return `<domain type='qemu'><name>${name}</name>${uuid ? `<uuid>${uuid}</uuid>` : ''}<memory unit='MiB'>64</memory>
<os><type arch='${ARCH}'>hvm</type></os><devices><emulator>${EMULATOR}</emulator>${devices}</devices></domain>`
}

/** Domains left by killed runs: their creator's pid is in the name and no longer alive. */
function undefineStale(): void {
  for (const name of virsh(['list', '--all', '--name']).stdout.split('\n')) {
    const pid = /^(?:burrow|bpx)-t-([0-9]+)-/.exec(name)?.[1]
    if (pid && !existsSync(`/proc/${pid}`)) virsh(['undefine', name])
  }
}

let dir: string
let cfg: string

beforeAll(async () => {
  expect(EMULATOR).toBeDefined()
  undefineStale()
  dir = mkdtempSync('/tmp/burrow-libvirt-')
  for (const [name, devices, uuid] of DOMAINS) {
    const file = join(dir, `${name}.xml`)
    writeFileSync(file, domainXML(name, devices, uuid))
    const r = virsh(['define', file])
    if (r.status !== 0) throw new Error(`virsh define ${name}: ${r.stderr}`)
  }
  cfg = join(dir, 'ssh_config')
  writeFileSync(
    cfg,
    `Include ${await installFragment(join(dir, 'root'))}\nHost *\n    BatchMode yes\n    ConnectTimeout 10\n`,
  )
})

afterAll(() => {
  for (const [name] of DOMAINS) virsh(['undefine', name])
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const resolve = (host: string, port = '22', extra: string[] = []) =>
  burrow(['proxy', '--resolve', ...extra, host, port])

// every domain here is shut off, so a lookup that finds one ends in the refusal that names the
// domain it found and its CID: that proves the lookup (name, UUID, case) without a running VM;
// src/backends/libvirt/lookup.test.ts resolves running domains of libvirtd's test driver
const off = (name: string, cid: number) =>
  `burrow: Failed to connect to libvirt domain '${name}': it is shut off (start it: virsh -c ${SYSTEM} start ${name}); its CID ${cid} may belong to another VM now\n`

describe('burrow proxy --resolve against libvirtd', () => {
  test.each([
    [`qemu:system/${P}vm-1`, '22', off(`${P}vm-1`, 4711)],
    [`qemu:system%${P}vm-2`, '2222', off(`${P}vm-2`, 4712)],
    [`qemu/${P}vm-1`, '22', off(`${P}vm-1`, 4711)],
    [`qemu%${P}vm-2`, '22', off(`${P}vm-2`, 4712)],
    [`qemu:system/${P}MixedCaseVM`, '22', off(`${P}MixedCaseVM`, 4713)],
    [`qemu/${P}mixedcasevm`, '22', off(`${P}MixedCaseVM`, 4713)],
    [`qemu:system/${P}MIXEDCASEVM`, '22', off(`${P}MixedCaseVM`, 4713)],
    [`qemu:system/${UUID}`, '22', off(`${P}by-uuid`, 4714)],
    [`qemu%${UUID.toUpperCase()}`, '22', off(`${P}by-uuid`, 4714)],
    [`qemu/${UUID.replaceAll('-', '')}`, '22', off(`${P}by-uuid`, 4714)],
    [`qemu:system/${P}Dup`, '22', off(`${P}Dup`, 4715)],
    [`qemu:system/${P}DUP`, '22', off(`${P}DUP`, 4716)],
  ])('%s port %s finds the domain and refuses it while shut off', async (host, port, want) => {
    const r = await resolve(host, port)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(want)
    expect(r.code).toBe(1)
  })

  test('the premise: libvirtd itself reports the static-CID domain shut off, with the CID still in its XML', () => {
    expect(virsh(['domstate', `${P}vm-1`]).stdout.trim()).toBe('shut off')
    expect(virsh(['dumpxml', `${P}vm-1`]).stdout).toContain("address='4711'")
  })

  test('--typed restores the case that OpenSSH folded', async () => {
    const r = await resolve(`qemu/${P}mixedcasevm`, '22', ['--typed', `qemu/${P}MixedCaseVM`])
    expect(r.stderr).toBe(off(`${P}MixedCaseVM`, 4713))
  })

  const edit = (name: string) => `virsh -c ${SYSTEM} edit ${name}`
  test.each([
    [
      `qemu:system/${P}novsock`,
      `Failed to get the vsock CID of libvirt domain '${P}novsock': it has no vsock device (add <vsock model='virtio'><cid auto='yes'/></vsock> to its <devices> with '${edit(`${P}novsock`)}'; it takes effect at the next start)`,
    ],
    [
      `qemu/${P}vm-3`,
      `Failed to get the vsock CID of libvirt domain '${P}vm-3': its CID is assigned automatically when it starts, and it is shut off (start it: virsh -c ${SYSTEM} start ${P}vm-3)`,
    ],
    [
      `qemu:system/${P}vm-4`,
      `Failed to find libvirt domain '${P}vm-4' in ${SYSTEM}: no domain has that name, UUID or ID (closest: ${P}vm-1, ${P}vm-2, ${P}vm-3; see virsh -c ${SYSTEM} list --all)`,
    ],
    [
      `qemu:system/987654321`,
      `Failed to find libvirt domain '987654321' in ${SYSTEM}: no domain has that name, UUID or ID (none has a similar name; see virsh -c ${SYSTEM} list --all)`,
    ],
    [
      `qemu/${P}dup`,
      `Failed to find libvirt domain '${P}dup': when case is ignored, several domains have that name: ${P}DUP, ${P}Dup (type one exactly: ssh keeps the case of qemu%NAME and qemu:system/NAME)`,
    ],
    [
      `qemu:sys/${P}vm-1`,
      `Failed to parse libvirt address 'qemu:sys/${P}vm-1': Unknown connection URI 'qemu:sys' (use qemu:system/NAME, qemu:session/NAME or qemu/NAME)`,
    ],
  ])('%s fails with one line', async (host, want) => {
    const r = await resolve(host)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(`burrow: ${want}\n`)
    expect(r.code).toBe(1)
  })

  test('a user libvirtd does not let in gets told so', async () => {
    const r = await run([
      'runuser',
      '-u',
      'nobody',
      '--',
      'env',
      '-i',
      'HOME=/nonexistent',
      BURROW,
      'proxy',
      '--resolve',
      'qemu:system/x',
      '22',
    ])
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(
      /^burrow: Failed to connect to libvirt at qemu:\/\/\/system: [^\n]+ \(permission denied for uid 65534: run as root, or grant read-only access with the libvirt group, polkit rules or auth_unix_ro in libvirtd\.conf\)\n$/,
    )
    expect(r.code).toBe(1)
  })

  test('bare qemu/NAME as a user reports the session URI too', async () => {
    const r = await run([
      'runuser',
      '-u',
      'nobody',
      '--',
      'env',
      '-i',
      'HOME=/nonexistent',
      BURROW,
      'proxy',
      '--resolve',
      'qemu/x',
      '22',
    ])
    expect(r.stderr).toMatch(
      /^burrow: Failed to connect to libvirt at qemu:\/\/\/system: [^\n]+; qemu:\/\/\/session failed too: [^\n]+\n$/,
    )
    expect(r.code).toBe(1)
  })

  test('a missing libvirtd socket is named', async () => {
    // a private mount namespace hides the daemon's sockets from this one process only
    const r = await run([
      'unshare',
      '-m',
      'sh',
      '-c',
      `mount -t tmpfs none /run/libvirt && exec ${BURROW} proxy --resolve qemu:system/x 22`,
    ])
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(
      'burrow: Failed to connect to libvirt at qemu:///system: socket /var/run/libvirt/libvirt-sock-ro: No such file or directory (is libvirtd running? start it with systemctl start libvirtd (or virtqemud), or libvirtd -d)\n',
    )
    expect(r.code).toBe(1)
  })

  test("needs no libvirt.so.0: it speaks the daemon's protocol itself", async () => {
    const lib = /libvirt\.so\.0 \([^)]*\) => (\S+)/.exec(
      spawnSync('ldconfig', ['-p'], { encoding: 'utf8' }).stdout,
    )?.[1]
    expect(lib).toBeDefined()
    const r = await run([
      'unshare',
      '-m',
      'sh',
      '-c',
      `mount --bind /dev/null ${lib} && exec ${BURROW} proxy --resolve qemu:system/${P}vm-1 22`,
    ])
    expect(r.stderr).toBe(off(`${P}vm-1`, 4711))
  })
})

describe('ssh with qemu hosts', () => {
  test('OpenSSH really lowercases %h for qemu/NAME, so the %h-only case below means something', async () => {
    const r = await run(['ssh', '-G', '-F', '/dev/null', `qemu/${P}MixedCaseVM`])
    expect(r.stdout).toContain(`\nhostname qemu/${P.toLowerCase()}mixedcasevm\n`)
  })

  test.each([['qemu:system/vm'], ['qemu/MyVM'], ['qemu%MyVM'], ['qemu:session%vm']])(
    'ssh -G %s uses burrow as ProxyCommand',
    async (host) => {
      const r = await run(['ssh', '-G', '-F', cfg, host])
      expect(r.stdout).toContain(`\nproxycommand '${BURROW}' proxy `)
      expect(r.stdout).toContain('\nproxyusefdpass yes\n')
    },
  )

  // burrow's message names the domain it found: only its output counts
  test.each([
    [`qemu/${P}MixedCaseVM`, "--typed '%n' '%h'", off(`${P}MixedCaseVM`, 4713)],
    [`qemu/${P}MixedCaseVM`, "'%h'", off(`${P}MixedCaseVM`, 4713)],
    [`qemu:system/${P}vm-1`, "--typed '%n' '%h'", off(`${P}vm-1`, 4711)],
    [`qemu%${UUID}`, "--typed '%n' '%h'", off(`${P}by-uuid`, 4714)],
  ])(
    'ssh %s with ProxyCommand burrow proxy --resolve %s finds the domain',
    async (host, args, want) => {
      const out = join(dir, `resolved-${randomBytes(4).toString('hex')}`)
      // 3>&1 keeps ssh's pipe open until burrow exits: on EOF ssh would SIGHUP it before it writes
      const proxy = `${BURROW} proxy --resolve ${args} %p 3>&1 2>${out}`
      await run([
        'ssh',
        '-F',
        '/dev/null',
        '-o',
        `ProxyCommand=${proxy}`,
        '-o',
        'BatchMode=yes',
        host,
        'true',
      ])
      expect(readFileSync(out, 'utf8')).toBe(want)
    },
  )

  test.each([
    [`qemu:system/${P}novsock`, 'it has no vsock device'],
    [`qemu/${P}vm-3`, 'it is shut off (start it'],
    // a static CID in the XML of a shut-off domain is refused: a clone may hold that CID now
    [
      `qemu/${P}vm-1`,
      `it is shut off (start it: virsh -c ${SYSTEM} start ${P}vm-1); its CID 4711 may belong to another VM now`,
    ],
    [`qemu:system/${P}vm-4`, 'no domain has that name, UUID or ID'],
  ])("ssh %s shows burrow's error", async (host, fragment) => {
    // the installed ProxyCommand connects once resolved: only run it when resolution must fail
    const check = await resolve(host)
    expect(check.code).toBe(1)
    const r = await run(['ssh', '-F', cfg, host, 'true'])
    expect(r.stderr).toContain(`burrow: ${check.stderr.slice('burrow: '.length)}`)
    expect(r.stderr).toContain(fragment)
    expect(r.code).toBe(255)
  })
})
