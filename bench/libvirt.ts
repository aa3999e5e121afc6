#!/usr/bin/env bun
/**
 * bench/libvirt: `burrow proxy --resolve qemu:system/VM` beside `virsh dumpxml VM` (the reference,
 * target burrow ≤ 1.0× virsh) against libvirtd with 200 defined domains, medians from hyperfine.
 * Context rows split burrow's time: runtime start (--version), proxy without libvirt (vsock/3),
 * and the case-folded name that lists all 200 domains. burrow speaks libvirt's RPC protocol to the
 * daemon's socket itself (src/backends/libvirt/remote.ts). Domains are defined, never started.
 * usage: bun bench/libvirt.ts [--runs 30] [--domains 200] [--burrow dist/burrow]
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    domains: { type: 'string', default: '200' },
    // another build to compare, such as the last commit's
    burrow: { type: 'string', default: join(import.meta.dir, '..', 'dist', 'burrow') },
  },
})
const RUNS = Number(values.runs)
const COUNT = Number(values.domains)
const BURROW = values.burrow
const URI = 'qemu:///system'
const PREFIX = `burrow-bench-${process.pid}-`
const EMULATOR = ['/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-system-aarch64'].find(existsSync)
const ARCH = EMULATOR?.endsWith('aarch64') ? 'aarch64' : 'x86_64'
const dir = mkdtempSync('/tmp/burrow-bench-')

/** Runs virsh once with many commands on stdin (one process instead of hundreds). */
function virsh(commands: string[]): void {
  const r = spawnSync('virsh', ['-q', '-c', URI], {
    input: `${commands.join('\n')}\n`,
    encoding: 'utf8',
  })
  if (r.status !== 0) console.error(`virsh: ${r.stderr.trim()}`)
}

const names = Array.from({ length: COUNT }, (_, i) => `${PREFIX}VM-${String(i).padStart(3, '0')}`)

function undefineAll(): void {
  // this run's domains, plus those of killed runs (their pid is gone)
  const list = spawnSync('virsh', ['-q', '-c', URI, 'list', '--all', '--name'], {
    encoding: 'utf8',
  })
  const listed = list.stdout.split('\n')
  const stale = listed.filter((n) => {
    const pid = /^burrow-bench-([0-9]+)-/.exec(n)?.[1]
    return pid !== undefined && (pid === String(process.pid) || !existsSync(`/proc/${pid}`))
  })
  if (stale.length) virsh(stale.map((n) => `undefine ${n}`))
}

function define(): void {
  const commands = names.map((name, i) => {
    const file = join(dir, `${i}.xml`)
    writeFileSync(
      file,
      `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><os><type arch='${ARCH}'>hvm</type></os>
<devices><emulator>${EMULATOR}</emulator><vsock model='virtio'><cid auto='no' address='${10000 + i}'/></vsock></devices></domain>`,
    )
    return `define ${file}`
  })
  virsh(commands)
}

function hyperfine(rows: [string, string][]): Record<string, number> {
  const json = join(dir, 'hyperfine.json')
  // -i: a defined domain never runs here, so burrow's lookup ends in the not-running refusal
  const args = [
    '-N',
    '-i',
    '--style',
    'none',
    '--warmup',
    '3',
    '--runs',
    String(RUNS),
    '--export-json',
    json,
  ]
  for (const [name, cmd] of rows) args.push('-n', name, cmd)
  const r = spawnSync('hyperfine', args, { stdio: ['ignore', 'ignore', 'inherit'] })
  if (r.status !== 0) throw new Error(`hyperfine failed (${r.status})`)
  const results = JSON.parse(readFileSync(json, 'utf8')).results as {
    command: string
    median: number
  }[]
  return Object.fromEntries(results.map((x) => [x.command, x.median * 1000]))
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    undefineAll()
    process.exit(130)
  })
}

try {
  if (!EMULATOR) throw new Error('no qemu-system emulator found')
  undefineAll()
  define()
  const vm = names[Math.floor(COUNT / 2)]!
  const check = spawnSync(BURROW, ['proxy', '--resolve', `qemu:system/${vm}`, '22'], {
    encoding: 'utf8',
  })
  // the same lookup as for a running domain (name, XML, CID, then its state), ending in the refusal
  if (
    !check.stderr.includes(`it is shut off`) ||
    !check.stderr.includes(`its CID ${10000 + Math.floor(COUNT / 2)} `)
  ) {
    throw new Error(`burrow resolved '${check.stdout}' ${check.stderr}`)
  }
  const ms = hyperfine([
    ['virsh dumpxml', `virsh -c ${URI} dumpxml ${vm}`],
    ['virsh -r dumpxml', `virsh -r -c ${URI} dumpxml ${vm}`],
    ['burrow --resolve', `${BURROW} proxy --resolve qemu:system/${vm} 22`],
    ['burrow --resolve, case-folded', `${BURROW} proxy --resolve qemu/${vm.toLowerCase()} 22`],
    ['burrow --version', `${BURROW} --version`],
    ['burrow --resolve vsock/3', `${BURROW} proxy --resolve vsock/3 22`],
  ])
  const ref = ms['virsh dumpxml']!
  console.log(`libvirtd with ${COUNT} defined domains, median of ${RUNS} runs, domain ${vm}`)
  console.log(`${'command'.padEnd(32)}${'median ms'.padStart(10)}${'× virsh'.padStart(10)}`)
  for (const [name, t] of Object.entries(ms)) {
    console.log(
      `${name.padEnd(32)}${t.toFixed(1).padStart(10)}${(t / ref).toFixed(2).padStart(10)}`,
    )
  }
} finally {
  undefineAll()
  rmSync(dir, { recursive: true, force: true })
}
