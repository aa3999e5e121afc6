#!/usr/bin/env bun
/**
 * bench/serve: `burrow serve` against the real incusd, beside OpenSSH sshd running in the same
 * container (bench/anchor.ts) and `incus exec` (the API floor), default client cipher list.
 *   throughput: N MiB of stdout (`cat FILE` inside) and of stdin (`cat > /dev/null` inside),
 *               with CPU seconds per GiB of burrow serve and of the client
 *   setup:      median of R `ssh … true` logins (and `incus exec C -- true`)
 *   idle:       S concurrent idle sessions: login p50/p99, serve RSS per session
 * usage: bun bench/serve.ts [--mib 1024] [--runs 30] [--sessions 50]
 */
import { parseArgs } from 'node:util'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { C1, prepareTargets, sshArgs, startServe } from '../tests/serve/support'
import { FWD, prepareFwd, sh as inside } from '../tests/serve/fwd-support'
import { HEADER, row, sshdInside, timed } from './anchor'
import type { Run } from './anchor'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '1024' },
    runs: { type: 'string', default: '30' },
    sessions: { type: 'string', default: '50' },
  },
})
const MIB = Number(values.mib)
const RUNS = Number(values.runs)
const SESSIONS = Number(values.sessions)
const FILE = `/root/bench-${MIB}m`

await prepareTargets()
await prepareFwd()
const s = await startServe(['--max-startups', String(SESSIONS * 2), '--max-auth-failures', '0'])
// a failed run must not leave the server (and its devices) behind
process.on('exit', () => Bun.spawnSync(['kill', String(s.pid)], { stderr: 'ignore' }))
const dir = mkdtempSync('/tmp/bsp-bench-serve-')
const ssh = sshArgs(s, C1)
  .map((a) => `'${a}'`)
  .join(' ')

async function sh(cmd: string): Promise<number> {
  const t = performance.now()
  const p = Bun.spawn(['sh', '-c', cmd], { stdout: 'ignore', stderr: 'inherit' })
  if ((await p.exited) !== 0) throw new Error(`failed: ${cmd}`)
  return performance.now() - t
}
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!
const rssKiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])
const servePid = () => s.pid

// the same commands three ways, FWD container, default client ciphers (no -c anywhere)
await inside(`[ -s ${FILE} ] || head -c ${MIB}M /dev/urandom > ${FILE}`)
const upFile = join(dir, 'up')
Bun.spawnSync(['sh', '-c', `head -c ${MIB}M /dev/urandom > ${upFile}`])
const anchor = await sshdInside(s.key, dir)
const via = {
  burrow: (cmd: string) => [...sshArgs(s, FWD), cmd],
  gcm: (cmd: string) => [...sshArgs(s, FWD, ['-o', 'Ciphers=aes128-gcm@openssh.com']), cmd],
  sshd: (cmd: string) => ['ssh', ...anchor.opts, 'inside', cmd],
  incus: (cmd: string) => ['incus', 'exec', FWD, '--', 'sh', '-c', cmd],
}
type Way = keyof typeof via
const down = {} as Record<Way, Run>
const up = {} as Record<Way, Run>
for (const w of Object.keys(via) as Way[]) {
  const pid = w === 'burrow' || w === 'gcm' ? s.pid : undefined
  // warm the page cache, the connection path and the JIT, then one measured run each way
  await timed(via[w](`head -c 64M ${FILE}`))
  const sshd0 = await anchor.cpu()
  down[w] = await timed(via[w](`cat ${FILE}`), { servePid: pid })
  const sshd1 = await anchor.cpu()
  up[w] = await timed(via[w]('cat > /dev/null'), { stdin: upFile, servePid: pid })
  if (w === 'sshd') {
    down[w].server = sshd1 - sshd0
    up[w].server = (await anchor.cpu()) - sshd1
  }
}
await anchor.close()
rmSync(dir, { recursive: true, force: true })

const setup = { burrow: [] as number[], incus: [] as number[] }
for (let i = 0; i < RUNS; i++) {
  setup.burrow.push(await sh(`${ssh} true`))
  setup.incus.push(await sh(`incus exec ${C1} -- true`))
}

// idle sessions: each logs in, starts `cat` and waits; "logged in" = the echo came back
const pid = servePid()
const before = rssKiB(pid)
const logins: number[] = []
const procs = await Promise.all(
  Array.from({ length: SESSIONS }, async () => {
    const t = performance.now()
    const p = Bun.spawn(['sh', '-c', `${ssh} 'echo up; exec cat'`], {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'inherit',
    })
    const reader = p.stdout.getReader()
    await reader.read()
    logins.push(performance.now() - t)
    return p
  }),
)
await Bun.sleep(1000)
Bun.gc(true)
const after = rssKiB(pid)
for (const p of procs) p.kill()
await s.stop()

const line = (name: string, v: string) => console.log(`${name.padEnd(40)} ${v}`)
console.log(
  `\n${MIB} MiB each way, one run each after a warm-up, default client ciphers (burrow: chacha20-poly1305)\n`,
)
console.log(HEADER)
console.log(row(`stdout ${MIB} MiB`, MIB, down.burrow, down.sshd, down.incus))
console.log(row(`stdin ${MIB} MiB`, MIB, up.burrow, up.sshd, up.incus))
console.log(row(`stdout ${MIB} MiB, -c aes128-gcm`, MIB, down.gcm, down.sshd, down.incus))
console.log(row(`stdin ${MIB} MiB, -c aes128-gcm`, MIB, up.gcm, up.sshd, up.incus))
console.log()
line(`session setup median of ${RUNS}, ssh true`, `${pct(setup.burrow, 0.5).toFixed(1)} ms`)
line(`incus exec true median of ${RUNS}`, `${pct(setup.incus, 0.5).toFixed(1)} ms`)
line(
  `${SESSIONS} concurrent logins p50 / p99`,
  `${pct(logins, 0.5).toFixed(0)} / ${pct(logins, 0.99).toFixed(0)} ms`,
)
line(
  'serve RSS before / with sessions',
  `${(before / 1024).toFixed(1)} / ${(after / 1024).toFixed(1)} MiB`,
)
line('RSS per idle session', `${((after - before) / SESSIONS / 1024).toFixed(2)} MiB (target <= 2)`)
