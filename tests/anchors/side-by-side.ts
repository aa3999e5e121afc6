#!/usr/bin/env bun
/**
 * burrow beside the real systemd-ssh-proxy 257 and libvirt-ssh-proxy 11.3 on the same inputs.
 * Not part of `bun test` (needs a Debian trixie tree): build it once with
 *   debootstrap --variant=minbase --include=systemd,openssh-client,libvirt-clients,libvirt-ssh-proxy trixie DIR MIRROR
 * (MIRROR read from the machine's apt sources), then
 *   ANCHOR_ROOT=DIR bun tests/anchors/side-by-side.ts
 * The anchors run from DIR through its own loader and libraries on this host's file system, with
 * an LD_PRELOAD shim that makes socket(AF_VSOCK) fail (rule 2: no vsock connect): "AF_VSOCK
 * refused by the shim" means the tool resolved a target and would have connected it. machined and
 * VMMs are the stand-ins of tests/support; libvirtd is the real one. Prints a markdown table.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startMachinedPeer } from '../support/machined-peer'
import { type MuxBehaviour, spawnMuxPeer } from '../support/mux-peer'
import { startUnixSshd } from '../support/sshd'
import { BURROW, run } from '../e2e/run'

const ROOT = process.env.ANCHOR_ROOT
if (!ROOT) throw new Error('set ANCHOR_ROOT to a debootstrapped trixie tree')
// lowercase only: ssh lowercases %h for `vsock-mux/PATH`, and systemd 257 has no `%` spelling
const dir = `/tmp/bpx-anchors-${process.pid}`
mkdirSync(dir)
const shim = join(dir, 'novsock.so')
writeFileSync(
  join(dir, 'novsock.c'),
  `#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
int socket(int d, int t, int p) {
  static int (*real)(int, int, int);
  if (d == 40) { errno = EAFNOSUPPORT; return -1; }
  if (!real) real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
  return real(d, t, p);
}
`,
)
execFileSync('gcc', ['-shared', '-fPIC', '-o', shim, join(dir, 'novsock.c'), '-ldl'])
const libs = [
  'usr/lib/x86_64-linux-gnu/systemd',
  'usr/lib/x86_64-linux-gnu',
  'lib/x86_64-linux-gnu',
]
  .map((l) => join(ROOT, l))
  .join(':')
const anchor = (bin: string) => [
  join(ROOT, 'lib64/ld-linux-x86-64.so.2'),
  '--library-path',
  libs,
  join(ROOT, bin),
]
const SYSTEMD = anchor('usr/lib/systemd/systemd-ssh-proxy')
const LIBVIRT = anchor('usr/lib/libvirt/libvirt-ssh-proxy')
const ENV = { LD_PRELOAD: shim }

const sshd = await startUnixSshd()
const muxes: Record<string, string> = {}
const stops: (() => Promise<void>)[] = [() => sshd.stop()]
for (const b of ['ok', 'banner', 'foreign', 'late', 'close'] as MuxBehaviour[]) {
  const p = await spawnMuxPeer({
    path: join(dir, `${b}.sock`),
    ports: { 22: sshd.socketPath },
    behaviour: b,
  })
  muxes[b] = p.path
  stops.push(p.stop)
}
const machined = await startMachinedPeer(join(dir, 'io.systemd.Machine'), [
  { name: 'bpx-vm', class: 'vm', service: 'systemd-vmspawn', vSockCid: 4711 },
  { name: 'bpx-ct', class: 'container', service: 'systemd-nspawn' },
])
stops.push(machined.stop)
const DOM = `bpx-side-${process.pid}`
const emulator = '/usr/bin/qemu-system-x86_64'
writeFileSync(
  join(dir, 'dom.xml'),
  `<domain type='qemu'><name>${DOM}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os><devices><emulator>${emulator}</emulator><vsock model='virtio'><cid auto='no' address='4790'/></vsock></devices></domain>`,
)
execFileSync('virsh', ['-q', '-c', 'qemu:///system', 'define', join(dir, 'dom.xml')])
writeFileSync(join(dir, 'file'), 'not a socket')
// the sshd under a lowercase name too (ssh lowercases %h for `unix/PATH`), and under a mixed-case one
symlinkSync(sshd.socketPath, join(dir, 'sshd.sock'))
symlinkSync(sshd.socketPath, join(dir, 'MiXed.sock'))

/** in a private mount namespace whose /run links machined's and nspawn's paths to the stand-ins */
const ownRun = (argv: string[]) => [
  'unshare',
  '-m',
  'sh',
  '-c',
  `mount -t tmpfs bpx /run && mkdir -p /run/systemd/machine /run/systemd/nspawn/unix-export/bpx-ct /run/ssh-unix-local && ln -s ${machined.path} /run/systemd/machine/io.systemd.Machine && ln -s ${sshd.socketPath} /run/systemd/nspawn/unix-export/bpx-ct/ssh && ln -s ${sshd.socketPath} /run/ssh-unix-local/socket && exec "$@"`,
  'sh',
  ...argv,
]

const first = (r: { code: number; stdout: string; stderr: string }) => {
  const line = (
    r.stderr.split('\n').find((l) => l.trim() && !l.startsWith('Warning: Permanently')) ??
    r.stdout.split('\n')[0] ??
    ''
  ).trim()
  return `exit ${r.code}: ${line
    .replace(/Address family not supported by protocol/, 'AF_VSOCK refused by the shim')
    .replaceAll('|', '\\|')
    .slice(0, 150)}`
}

/** the tool alone (errors only: Bun's stdout is a socketpair, which takes an fd) */
async function direct(tool: string[], args: string[], own = true): Promise<string> {
  return first(
    await run(own ? ownRun([...tool, ...args]) : [...tool, ...args], {
      env: ENV,
      timeoutMs: 20_000,
    }),
  )
}

/** a whole `ssh HOST echo ok` with the tool as ProxyCommand (fd passing unless told otherwise) */
async function session(tool: string[], host: string, fdpass = 'yes'): Promise<string> {
  const cfg = sshd.sshConfig(
    `Host *\n    ProxyCommand ${tool.join(' ')} %h %p\n    ProxyUseFdpass ${fdpass}`,
  )
  const r = await run(ownRun(['ssh', '-F', cfg, host, 'echo', 'session-ok']), {
    env: ENV,
    timeoutMs: 30_000,
  })
  return r.stdout === 'session-ok\n' ? `session ok (${(r.ms / 1000).toFixed(1)} s)` : first(r)
}

const B = [BURROW, 'proxy']
const BR = [BURROW, 'proxy', '--resolve']
type Row = [string, () => Promise<string>, () => Promise<string>, () => Promise<string>]
const na = async () => 'n/a (no such form)'
const rows: Row[] = [
  // the real /run: libvirtd's socket is there
  [
    'shut-off domain, static CID 4790',
    () => direct(BR, [`qemu:system/${DOM}`, '22'], false),
    na,
    () => direct(LIBVIRT, [`qemu:system/${DOM}`, '22'], false),
  ],
  [
    'vsock-mux, OK line',
    () => session(B, `vsock-mux%${muxes.ok}`),
    () => session(SYSTEMD, `vsock-mux/${muxes.ok}`),
    na,
  ],
  [
    'vsock-mux, no OK, 39-byte banner',
    () => session(B, `vsock-mux%${muxes.banner}`),
    () => session(SYSTEMD, `vsock-mux/${muxes.banner}`),
    na,
  ],
  [
    'vsock-mux, HELLO line before banner',
    () => session(B, `vsock-mux%${muxes.foreign}`),
    () => session(SYSTEMD, `vsock-mux/${muxes.foreign}`),
    na,
  ],
  [
    'vsock-mux, OK after 7.5 s',
    () => session(B, `vsock-mux%${muxes.late}`),
    () => session(SYSTEMD, `vsock-mux/${muxes.late}`),
    na,
  ],
  [
    'vsock-mux, port not open',
    () => session(B, `vsock-mux%${muxes.close}`),
    () => session(SYSTEMD, `vsock-mux/${muxes.close}`),
    na,
  ],
  [
    'machine/bpx-vm (vSockCid 4711)',
    () => direct(BR, ['machine/bpx-vm', '22']),
    () => direct(SYSTEMD, ['machine/bpx-vm', '22']),
    na,
  ],
  [
    'machine/bpx-ct (nspawn container)',
    () => session(B, 'machine/bpx-ct'),
    () => session(SYSTEMD, 'machine/bpx-ct'),
    na,
  ],
  [
    'machine/.host (binary, no drop-in)',
    () => session(B, 'machine/.host'),
    () => session(SYSTEMD, 'machine/.host'),
    na,
  ],
  [
    'machine/bpx-none',
    () => direct(B, ['machine/bpx-none', '22']),
    () => direct(SYSTEMD, ['machine/bpx-none', '22']),
    na,
  ],
  [
    '`unix 22`',
    () => direct(B, ['unix', '22']),
    () => direct(SYSTEMD, ['unix', '22']),
    () => direct(LIBVIRT, ['unix', '22']),
  ],
  [
    'extra argument',
    () => direct(B, [`unix%${sshd.socketPath}`, '22', 'x']),
    () => direct(SYSTEMD, [`unix/${sshd.socketPath}`, '22', 'x']),
    () => direct(LIBVIRT, ['qemu/x', '22', 'x']),
  ],
  [
    'unix path is a regular file',
    () => direct(B, [`unix%${dir}/file`, '22']),
    () => direct(SYSTEMD, [`unix/${dir}/file`, '22']),
    na,
  ],
  [
    'vsock/4294967295 (CID ANY)',
    () => direct(BR, ['vsock/4294967295', '22']),
    () => direct(SYSTEMD, ['vsock/4294967295', '22']),
    na,
  ],
  [
    'unix socket, ProxyUseFdpass no (pipes)',
    () => session(B, `unix/${dir}/sshd.sock`, 'no'),
    () => session(SYSTEMD, `unix/${dir}/sshd.sock`, 'no'),
    na,
  ],
  // each with its own drop-in's ProxyCommand: burrow's passes --typed '%n'
  [
    'unix path with capitals, ssh unix/…/MiXed.sock',
    () => session([...B, "--typed '%n'"], `unix/${dir}/MiXed.sock`),
    () => session(SYSTEMD, `unix/${dir}/MiXed.sock`),
    na,
  ],
]

/**
 * Start-up of a failed connect. Every executable runs from a file written by cp (the trixie tree
 * was written by tar): a file Bun wrote itself, or one paged back in by exec after eviction,
 * starts ~2 ms slower on this kernel, so mixing the two would skew the row. The floor row is a
 * compiled Bun binary whose whole program is process.exit(0): no Bun program starts faster.
 */
async function startup(): Promise<void> {
  const out = join(dir, 'hf.json')
  const missing = `${dir}/missing.sock`
  writeFileSync(join(dir, 'empty.ts'), 'process.exit(0)\n')
  const floor = await Bun.build({
    entrypoints: [join(dir, 'empty.ts')],
    compile: { outfile: join(dir, 'bun-built') },
    minify: true,
    bytecode: true,
    format: 'esm',
  })
  if (!floor.success) throw new Error('failed to build the empty Bun binary')
  execFileSync('cp', [join(dir, 'bun-built'), join(dir, 'bun-empty')])
  execFileSync('cp', [BURROW, join(dir, 'burrow')])
  const cmds = [
    `${dir}/burrow proxy unix/${missing} 22`,
    `${SYSTEMD.join(' ')} unix/${missing} 22`,
    `${dir}/bun-empty`,
    `nc -U ${missing}`,
    `socat - UNIX-CONNECT:${missing}`,
  ]
  execFileSync('sh', [
    '-c',
    `hyperfine -N -i --warmup 10 --runs 200 --export-json ${out} ${cmds.map((c) => `'${c}'`).join(' ')} >/dev/null 2>&1`,
  ])
  const json = (await Bun.file(out).json()) as {
    results: { median: number; user: number; system: number }[]
  }
  console.log(
    '\n| start-up, failed connect to a missing socket | wall (median) | CPU (user+sys, mean) |\n|---|---|---|',
  )
  const names = [
    'burrow proxy',
    'systemd-ssh-proxy 257',
    'floor: empty compiled Bun binary',
    'nc -U',
    'socat',
  ]
  for (const [i, r] of json.results.entries())
    console.log(
      `| ${names[i]} | ${(r.median * 1000).toFixed(1)} ms | ${((r.user + r.system) * 1000).toFixed(1)} ms |`,
    )
}

try {
  console.log(
    '| input | burrow | systemd-ssh-proxy 257 | libvirt-ssh-proxy 11.3 |\n|---|---|---|---|',
  )
  for (const [name, b, s, l] of rows) {
    const [rb, rs, rl] = await Promise.all([b(), s(), l()])
    console.log(`| ${name} | ${rb} | ${rs} | ${rl} |`)
  }
  await startup()
} finally {
  execFileSync('virsh', ['-q', '-c', 'qemu:///system', 'undefine', DOM])
  for (const stop of stops) await stop()
  rmSync(dir, { recursive: true, force: true })
}
