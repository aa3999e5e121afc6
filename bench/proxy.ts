#!/usr/bin/env bun
/**
 * bench/proxy: burrow proxy beside socat, side by side in one run, against one unix-socket sshd.
 *   session setup: median of N `ssh … true`      (fd passing, pump, socat as ProxyCommand)
 *   throughput:    1 GiB through `ssh … cat`        (both directions carry it)
 *   startup:       `burrow --version` vs `socat -V` (hyperfine)
 * usage: bun bench/proxy.ts [--runs 30] [--mib 1024]
 */
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { startUnixSshd } from '../tests/support/sshd'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '30' }, mib: { type: 'string', default: '1024' } } })
const RUNS = Number(values.runs)
const MIB = Number(values.mib)
const BURROW = join(import.meta.dir, '..', 'dist', 'burrow')

const sshd = await startUnixSshd()
const sock = sshd.socketPath
const peers = {
  'burrow fd passing': `ProxyCommand ${BURROW} proxy %h %p\nProxyUseFdpass yes`,
  'burrow pump': `ProxyCommand ${BURROW} proxy %h %p\nProxyUseFdpass no`,
  'socat': `ProxyCommand socat - UNIX-CONNECT:${sock}\nProxyUseFdpass no`,
} as const
type Peer = keyof typeof peers
const configs = Object.fromEntries(
  Object.entries(peers).map(([name, opts]) => [name, sshd.sshConfig(`Host *\n${opts.replace(/^/gm, '    ')}`)]),
) as Record<Peer, string>

async function sh(cmd: string): Promise<number> {
  const t = performance.now()
  const p = Bun.spawn(['sh', '-c', cmd], { stdout: 'ignore', stderr: 'inherit' })
  if ((await p.exited) !== 0) throw new Error(`failed: ${cmd}`)
  return performance.now() - t
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const setup: Record<string, number> = {}
const mbps: Record<string, number> = {}
const names = Object.keys(peers) as Peer[]
// interleave the peers so drift on this 2-core machine hits them alike
const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
for (let i = 0; i < RUNS; i++) {
  for (const n of names) samples[n]!.push(await sh(`ssh -F ${configs[n]} unix%${sock} true`))
}
for (const n of names) setup[n] = median(samples[n]!)
for (const n of names) {
  const ms = await sh(`head -c ${MIB}M /dev/zero | ssh -F ${configs[n]} unix%${sock} cat > /dev/null`)
  mbps[n] = (MIB * 1.048576) / (ms / 1000)
}

async function hyperfine(cmds: string[]): Promise<number[]> {
  const out = join(sshd.dir, 'hf.json')
  await sh(`hyperfine -N --warmup 10 --runs 100 --export-json ${out} ${cmds.map((c) => `'${c}'`).join(' ')} >/dev/null 2>&1`)
  const json = (await Bun.file(out).json()) as { results: { median: number }[] }
  return json.results.map((r) => r.median * 1000)
}
const [burrowStart, socatStart] = await hyperfine([`${BURROW} --version`, 'socat -V'])
await sshd.stop()

const pad = (s: string, n: number) => s.padEnd(n)
console.log(`\nbench/proxy — ${RUNS} session setups each (median), ${MIB} MiB through ssh cat, unix-socket sshd\n`)
console.log(`${pad('peer', 20)}${pad('setup ms', 10)}${pad('vs socat', 12)}${pad('MB/s', 8)}vs socat`)
for (const n of names) {
  const dSetup = setup[n]! - setup.socat!
  console.log(
    `${pad(n, 20)}${pad(setup[n]!.toFixed(1), 10)}${pad(`${dSetup >= 0 ? '+' : ''}${dSetup.toFixed(1)} ms`, 12)}${pad(mbps[n]!.toFixed(0), 8)}${(mbps[n]! / mbps.socat!).toFixed(2)}x`,
  )
}
console.log(`\nstartup: burrow --version ${burrowStart!.toFixed(1)} ms, socat -V ${socatStart!.toFixed(1)} ms (${(burrowStart! / socatStart!).toFixed(2)}x)`)
console.log('targets: fd passing ≥ 1.0x socat throughput and setup ≤ socat + 5 ms; pump ≥ 0.9x; startup ≤ 20 ms')
