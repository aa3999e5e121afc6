#!/usr/bin/env bun
/**
 * bench/serve: `burrow serve` against the real incusd, beside `incus exec` (the API floor).
 *   throughput: N MiB of stdout, `ssh … 'cat FILE'` vs `incus exec C -- cat FILE`, plus 64 MiB up
 *   setup:      median of R `ssh … true` logins (and `incus exec C -- true`)
 *   idle:       S concurrent idle sessions: login p50/p99, serve RSS per session
 * usage: bun bench/serve.ts [--mib 256] [--runs 30] [--sessions 50]
 */
import { parseArgs } from 'node:util'
import { readFileSync } from 'node:fs'
import { C1, prepareTargets, sshArgs, startServe } from '../tests/serve/support'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    runs: { type: 'string', default: '30' },
    sessions: { type: 'string', default: '50' },
  },
})
const MIB = Number(values.mib)
const RUNS = Number(values.runs)
const SESSIONS = Number(values.sessions)
const FILE = `/root/bench-${MIB}m`

await prepareTargets()
const s = await startServe(['--max-startups', String(SESSIONS * 2), '--max-auth-failures', '0'])
const ssh = sshArgs(s, C1, ['-o', 'Ciphers=aes128-gcm@openssh.com'])
  .map((a) => `'${a}'`)
  .join(' ')
// what a default OpenSSH client negotiates (no chacha20 in Bun): aes128-ctr + hmac-sha2-256-etm
const sshDefault = sshArgs(s, C1)
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
const servePid = () => {
  const out = Bun.spawnSync(['pgrep', '-f', `${s.dir}/%u.keys`])
    .stdout.toString()
    .trim()
    .split('\n')
  return Number(out[0])
}

await sh(`incus exec ${C1} -- sh -c '[ -s ${FILE} ] || head -c ${MIB}M /dev/urandom > ${FILE}'`)
// warm the page cache and the JIT, then interleave the two a few times and keep the best
await sh(`${ssh} 'cat ${FILE}' > /dev/null`)
const down = { burrow: Infinity, ctr: Infinity, incus: Infinity }
for (let i = 0; i < 3; i++) {
  down.burrow = Math.min(down.burrow, await sh(`${ssh} 'cat ${FILE}' > /dev/null`))
  down.ctr = Math.min(down.ctr, await sh(`${sshDefault} 'cat ${FILE}' > /dev/null`))
  down.incus = Math.min(down.incus, await sh(`incus exec ${C1} -- cat ${FILE} > /dev/null`))
}
const up = {
  burrow: await sh(`head -c 64M /dev/zero | ${ssh} 'cat > /dev/null'`),
  incus: await sh(`head -c 64M /dev/zero | incus exec ${C1} -- sh -c 'cat > /dev/null'`),
}
const mbps = (ms: number, mib = MIB) => (mib * 1.048576) / (ms / 1000)

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

const row = (name: string, v: string) => console.log(`${name.padEnd(40)} ${v}`)
row(`stdout ${MIB} MiB, burrow serve (aes128-gcm)`, `${mbps(down.burrow).toFixed(0)} MB/s`)
row(`stdout ${MIB} MiB, incus exec`, `${mbps(down.incus).toFixed(0)} MB/s`)
row('ratio burrow / incus exec', `${(down.incus / down.burrow).toFixed(2)} (target >= 0.8)`)
row(`stdout ${MIB} MiB, burrow, client default`, `${mbps(down.ctr).toFixed(0)} MB/s (aes128-ctr+hmac-sha2-256-etm)`)
row('ratio default client / incus exec', (down.incus / down.ctr).toFixed(2))
row('stdin 64 MiB, burrow serve', `${mbps(up.burrow, 64).toFixed(0)} MB/s`)
row('stdin 64 MiB, incus exec', `${mbps(up.incus, 64).toFixed(0)} MB/s`)
row(`session setup median of ${RUNS}, ssh true`, `${pct(setup.burrow, 0.5).toFixed(1)} ms`)
row(`incus exec true median of ${RUNS}`, `${pct(setup.incus, 0.5).toFixed(1)} ms`)
row(
  `${SESSIONS} concurrent logins p50 / p99`,
  `${pct(logins, 0.5).toFixed(0)} / ${pct(logins, 0.99).toFixed(0)} ms`,
)
row(
  'serve RSS before / with sessions',
  `${(before / 1024).toFixed(1)} / ${(after / 1024).toFixed(1)} MiB`,
)
row('RSS per idle session', `${((after - before) / SESSIONS / 1024).toFixed(2)} MiB (target <= 2)`)
