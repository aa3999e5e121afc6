#!/usr/bin/env bun
/**
 * bench/kex: what one unauthenticated handshake costs per key exchange, burrow serve beside
 * OpenSSH sshd on the same host. A handshake is `ssh -o KexAlgorithms=K` with authentication
 * method `none` up to the refusal: version exchange, KEXINIT, the exchange, NEWKEYS, one auth
 * round trip. These are speed figures with no rule behind a particular number (the rule, that
 * such handshakes do not stall a live session, is tests/serve/kex.test.ts), so they are printed
 * here instead of asserted on a shared CI machine.
 *   wall:  median (min–max) of RUNS handshakes, the two servers interleaved so drift hits both
 *   cpu:   server CPU ms per handshake (burrow serve's one process; sshd's listener with the
 *          per-connection processes it reaped), clock ticks summed over the RUNS
 * Exchanges burrow serve refuses show as "refused" (the client gives up after the KEXINITs);
 * sshd still offers the finite-field groups, which shows what they would cost.
 * usage: bun bench/kex.ts [--runs 20]
 */
import { parseArgs } from 'node:util'
import { readFileSync } from 'node:fs'
import { OFFERED_KEX } from '../src/serve/policy'
import { sshArgs, startServe } from '../tests/serve/support'
import { batchSshOptions, startTcpSshd } from '../tests/support/sshd'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } })
const RUNS = Number(values.runs)
const REFUSED = [
  'diffie-hellman-group14-sha256',
  'diffie-hellman-group16-sha512',
  'diffie-hellman-group18-sha512',
  'diffie-hellman-group-exchange-sha256',
]

/** CPU seconds of a live process so far; with `reaped`, also of the children it has waited for */
function cpuSeconds(pid: number, reaped = false): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const st = f
    .slice(f.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number)
  return (st[11]! + st[12]! + (reaped ? st[13]! + st[14]! : 0)) / 100
}

/** one handshake to the auth refusal: wall ms, and whether the exchange ran (not refused) */
async function handshake(kex: string, target: string[]): Promise<{ ms: number; ran: boolean }> {
  const t = performance.now()
  const p = Bun.spawn(
    ['ssh', '-v', '-o', `KexAlgorithms=${kex}`, '-o', 'PreferredAuthentications=none', ...target],
    { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' },
  )
  const [log] = await Promise.all([new Response(p.stderr).text(), p.exited])
  const ms = performance.now() - t
  if (log.includes(`kex: algorithm: ${kex}`) && log.includes('Permission denied'))
    return { ms, ran: true }
  if (log.includes('no matching key exchange method found')) return { ms, ran: false }
  throw new Error(`${kex}: neither refused nor denied:\n${log}`)
}

const s = await startServe(['--max-startups', '100', '--max-auth-failures', '0'])
// a failed run must not leave the server behind
process.on('exit', () => Bun.spawnSync(['kill', String(s.pid)], { stderr: 'ignore' }))
const sshd = await startTcpSshd()
const targets = {
  burrow: [...sshArgs(s, 'nobody').slice(1), 'true'],
  sshd: [...batchSshOptions(sshd.clientKey), '-p', String(sshd.port), 'nobody@127.0.0.1', 'true'],
}
const pids = { burrow: () => cpuSeconds(s.pid), sshd: () => cpuSeconds(sshd.pid, true) }
type Server = keyof typeof targets

interface Figures {
  ms: number[]
  ran: boolean
  cpuMs: number
}

const pad = (x: string, n: number) => x.padEnd(n)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const wall = (f: Figures) =>
  `${median(f.ms).toFixed(1)} (${Math.min(...f.ms).toFixed(0)}–${Math.max(...f.ms).toFixed(0)})`

try {
  // warm both servers (JIT, host key loading, the client's own start)
  for (const server of Object.keys(targets) as Server[])
    await handshake('curve25519-sha256', targets[server])
  console.log(
    `\nunauthenticated handshake to the auth refusal — ${RUNS} runs per exchange and server, interleaved\n`,
  )
  console.log(
    `${pad('key exchange', 40)}${pad('burrow ms', 18)}${pad('sshd ms', 18)}${pad('burrow / sshd', 15)}` +
      `${pad('burrow cpu ms', 15)}sshd cpu ms`,
  )
  for (const kex of [...OFFERED_KEX, ...REFUSED]) {
    const f = {} as Record<Server, Figures>
    for (const server of Object.keys(targets) as Server[])
      f[server] = { ms: [], ran: true, cpuMs: 0 }
    const cpu0 = { burrow: pids.burrow(), sshd: pids.sshd() }
    for (let i = 0; i < RUNS; i++) {
      for (const server of Object.keys(targets) as Server[]) {
        const r = await handshake(kex, targets[server])
        f[server].ms.push(r.ms)
        f[server].ran &&= r.ran
      }
    }
    // sshd's per-connection processes count once the listener has reaped them
    await Bun.sleep(300)
    for (const server of Object.keys(targets) as Server[])
      f[server].cpuMs = ((pids[server]() - cpu0[server]) * 1000) / RUNS
    const cell = (server: Server) =>
      f[server].ran ? wall(f[server]) : `refused ${median(f[server].ms).toFixed(1)}`
    const ratio =
      f.burrow.ran && f.sshd.ran ? `${(median(f.burrow.ms) / median(f.sshd.ms)).toFixed(2)}×` : '–'
    console.log(
      `${pad(kex, 40)}${pad(cell('burrow'), 18)}${pad(cell('sshd'), 18)}${pad(ratio, 15)}` +
        `${pad(f.burrow.cpuMs.toFixed(1), 15)}${f.sshd.cpuMs.toFixed(1)}`,
    )
  }
  console.log(
    '(cpu: clock ticks of 10 ms summed over the runs; a refused exchange costs the server its KEXINIT)',
  )
} finally {
  await sshd.stop()
  await s.stop()
}
