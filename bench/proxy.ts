#!/usr/bin/env bun
/**
 * bench/proxy: burrow proxy beside socat and nc (netcat-openbsd), side by side in one run.
 *   setup:      median of N `ssh … true` against a unix-socket sshd (fd passing, pump, socat)
 *   throughput: MIB MiB through `ssh … cat` (both directions carry it)
 *   startup:    hyperfine medians of an error path (`proxy unix/NONEXISTENT 22`, `nc -U`, `socat`)
 *               and of `burrow --version` / `socat -V`, over the floor: an empty compiled Bun binary
 *   memory:     RELAYS concurrent relays (stdin and stdout are pipes, so every tool relays) to one
 *               unix listener; per session: PSS and private memory from /proc/PID/smaps_rollup
 *               (RSS counts the ~35 MB mapped binary in full for every process, PSS shares it out)
 * usage: bun bench/proxy.ts [--runs 30] [--mib 1024] [--relays 100] [--only setup,throughput,startup,memory]
 */
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { startUnixSshd } from '../tests/support/sshd'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    mib: { type: 'string', default: '1024' },
    relays: { type: 'string', default: '100' },
    only: { type: 'string', default: 'setup,throughput,startup,memory' },
  },
})
const RUNS = Number(values.runs)
const MIB = Number(values.mib)
const RELAYS = Number(values.relays)
const ONLY = new Set(values.only.split(','))
const BURROW = process.env.BURROW_BIN ?? join(import.meta.dir, '..', 'dist', 'burrow')
const tmp = mkdtempSync('/tmp/bench-proxy-')

async function sh(cmd: string): Promise<number> {
  const t = performance.now()
  const p = Bun.spawn(['sh', '-c', cmd], { stdout: 'ignore', stderr: 'inherit' })
  if ((await p.exited) !== 0) throw new Error(`failed: ${cmd}`)
  return performance.now() - t
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const pad = (s: string, n: number) => s.padEnd(n)

async function sessions(): Promise<void> {
  const sshd = await startUnixSshd()
  const sock = sshd.socketPath
  const peers = {
    'burrow fd passing': `ProxyCommand ${BURROW} proxy %h %p\nProxyUseFdpass yes`,
    'burrow pump': `ProxyCommand ${BURROW} proxy %h %p\nProxyUseFdpass no`,
    socat: `ProxyCommand socat - UNIX-CONNECT:${sock}\nProxyUseFdpass no`,
    nc: `ProxyCommand nc -U ${sock}\nProxyUseFdpass no`,
  } as const
  type Peer = keyof typeof peers
  const names = Object.keys(peers) as Peer[]
  const configs = Object.fromEntries(
    Object.entries(peers).map(([name, opts]) => [
      name,
      sshd.sshConfig(`Host *\n${opts.replace(/^/gm, '    ')}`),
    ]),
  ) as Record<Peer, string>
  const setup: Partial<Record<Peer, number>> = {}
  const mbps: Partial<Record<Peer, number>> = {}
  if (ONLY.has('setup')) {
    // interleave the peers so drift on a shared machine hits them alike
    const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<
      Peer,
      number[]
    >
    for (let i = 0; i < RUNS; i++)
      for (const n of names) samples[n].push(await sh(`ssh -F ${configs[n]} unix%${sock} true`))
    for (const n of names) setup[n] = median(samples[n])
  }
  if (ONLY.has('throughput')) {
    for (const n of names) {
      const ms = await sh(
        `head -c ${MIB}M /dev/zero | ssh -F ${configs[n]} unix%${sock} cat > /dev/null`,
      )
      mbps[n] = (MIB * 1.048576) / (ms / 1000)
    }
  }
  await sshd.stop()
  console.log(
    `\nsessions — ${RUNS} setups each (median), ${MIB} MiB through ssh cat, unix-socket sshd\n`,
  )
  console.log(
    `${pad('peer', 20)}${pad('setup ms', 10)}${pad('vs socat', 12)}${pad('MB/s', 8)}vs socat`,
  )
  for (const n of names) {
    const s = setup[n]
    const m = mbps[n]
    const dSetup =
      s !== undefined && setup.socat !== undefined
        ? `${s >= setup.socat ? '+' : ''}${(s - setup.socat).toFixed(1)} ms`
        : '-'
    console.log(
      `${pad(n, 20)}${pad(s?.toFixed(1) ?? '-', 10)}${pad(dSetup, 12)}${pad(m?.toFixed(0) ?? '-', 8)}${m && mbps.socat ? `${(m / mbps.socat).toFixed(2)}x` : '-'}`,
    )
  }
}

/** median wall time and mean CPU time (user + system, steadier on a busy machine), in ms */
async function hyperfine(cmds: string[]): Promise<{ wall: number; cpu: number }[]> {
  const out = join(tmp, 'hf.json')
  // -i: the error-path commands exit non-zero on purpose
  await sh(
    `hyperfine -N -i --warmup 10 --runs 100 --export-json ${out} ${cmds.map((c) => `'${c}'`).join(' ')} >/dev/null 2>&1`,
  )
  const json = (await Bun.file(out).json()) as {
    results: { median: number; user: number; system: number }[]
  }
  return json.results.map((r) => ({ wall: r.median * 1000, cpu: (r.user + r.system) * 1000 }))
}

/**
 * The floor under every burrow start: a `bun build --compile` executable whose whole program is
 * `process.exit(0)`, built with burrow's flags. What burrow adds is the distance to this row.
 */
async function bunFloor(): Promise<string> {
  const src = join(tmp, 'empty.ts')
  await Bun.write(src, 'process.exit(0)\n')
  const outfile = join(tmp, 'bun-empty')
  const b = await Bun.build({
    entrypoints: [src],
    compile: { outfile },
    minify: true,
    bytecode: true,
    format: 'esm',
  })
  if (!b.success) throw new Error(`failed to build the empty Bun binary: ${b.logs.join('; ')}`)
  return outfile
}

async function startup(): Promise<void> {
  const missing = join(tmp, 'missing.sock')
  const cmds = {
    'bun runtime alone': await bunFloor(),
    'burrow proxy (error)': `${BURROW} proxy unix%${missing} 22`,
    'nc -U (error)': `nc -U ${missing}`,
    'socat (error)': `socat - UNIX-CONNECT:${missing}`,
    'burrow --version': `${BURROW} --version`,
    'socat -V': 'socat -V',
  }
  const ms = await hyperfine(Object.values(cmds))
  console.log(
    '\nstartup — hyperfine, 100 runs each: median wall time, mean CPU time (user + system)\n',
  )
  console.log(`${pad('command', 24)}${pad('wall ms', 10)}cpu ms`)
  for (const [i, name] of Object.keys(cmds).entries())
    console.log(`${pad(name, 24)}${pad(ms[i]!.wall.toFixed(1), 10)}${ms[i]!.cpu.toFixed(1)}`)
}

interface Mem {
  rss: number
  pss: number
  priv: number
}

/** kB fields of /proc/PID/smaps_rollup */
function rollup(pid: number): Mem {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  const kb = (f: string) =>
    Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN)
  return { rss: kb('Rss'), pss: kb('Pss'), priv: kb('Private_Clean') + kb('Private_Dirty') }
}

/** RELAYS concurrent copies of argv, each relaying between its pipes and one connection. */
async function relayMemory(argv: (path: string) => string[]): Promise<Mem> {
  const path = join(tmp, `relay-${Math.random().toString(36).slice(2)}.sock`)
  let accepted = 0
  const server = Bun.listen({
    unix: path,
    socket: {
      open: (s) => {
        accepted++
        s.write('hello\n')
      },
      data() {},
    },
  })
  const procs = Array.from({ length: RELAYS }, () =>
    Bun.spawn(argv(path), { stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' }),
  )
  try {
    const deadline = Date.now() + 30_000
    while (accepted < RELAYS && Date.now() < deadline) await Bun.sleep(20)
    if (accepted < RELAYS)
      throw new Error(`only ${accepted} of ${RELAYS} relays connected: ${argv(path).join(' ')}`)
    // every relay has had the greeting to pass on; let the last ones settle into their loop
    await Bun.sleep(500)
    const all = procs.map((p) => rollup(p.pid))
    const avg = (k: keyof Mem) => all.reduce((a, m) => a + m[k], 0) / all.length / 1024
    return { rss: avg('rss'), pss: avg('pss'), priv: avg('priv') }
  } finally {
    for (const p of procs) p.kill('SIGKILL')
    await Promise.all(procs.map((p) => p.exited))
    server.stop(true)
  }
}

async function memory(): Promise<void> {
  const tools: [string, (path: string) => string[]][] = [
    ['burrow proxy (relay)', (p) => [BURROW, 'proxy', `unix%${p}`, '22']],
    ['nc -U', (p) => ['nc', '-U', p]],
    ['socat', (p) => ['socat', '-', `UNIX-CONNECT:${p}`]],
  ]
  console.log(
    `\nmemory per relayed session — ${RELAYS} concurrent relays, /proc/PID/smaps_rollup averages\n`,
  )
  console.log(`${pad('tool', 24)}${pad('PSS MiB', 10)}${pad('private MiB', 13)}RSS MiB`)
  for (const [name, argv] of tools) {
    const m = await relayMemory(argv)
    console.log(
      `${pad(name, 24)}${pad(m.pss.toFixed(2), 10)}${pad(m.priv.toFixed(2), 13)}${m.rss.toFixed(2)}`,
    )
  }
  console.log(
    '(with ProxyUseFdpass, burrow exits after handing the socket to ssh: no process per session)',
  )
}

try {
  if (ONLY.has('setup') || ONLY.has('throughput')) await sessions()
  if (ONLY.has('startup')) await startup()
  if (ONLY.has('memory')) await memory()
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
