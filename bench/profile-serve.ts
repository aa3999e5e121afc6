#!/usr/bin/env bun
/**
 * bench/profile-serve: `burrow serve` from source under Bun's CPU profiler while the default
 * OpenSSH client moves N MiB one way; prints the top self-time frames and CPU seconds.
 * usage: bun bench/profile-serve.ts [--mib 256] [--dir up|down] [--cipher NAME]
 */
import { parseArgs } from 'node:util'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { C1, prepareTargets } from '../tests/serve/support'
import { batchSshOptions } from '../tests/support/sshd'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    dir: { type: 'string', default: 'down' },
    cipher: { type: 'string' },
    top: { type: 'string', default: '30' },
  },
})
const root = new URL('..', import.meta.url).pathname
await prepareTargets()
const dir = mkdtempSync('/tmp/bsp-prof-')
Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')])
writeFileSync(join(dir, 'root.keys'), readFileSync(join(dir, 'id.pub')))
const log = join(dir, 'serve.log')
const serve = Bun.spawn(
  [
    process.execPath,
    '--preload',
    `${root}scripts/ssh2-preload.ts`,
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    `${root}src/cli.ts`,
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--authorized-keys',
    join(dir, '%u.keys'),
    '--debug',
  ],
  {
    env: { ...process.env, NO_COLOR: '1', BURROW_STATE_DIR: join(dir, 'state') },
    stderr: Bun.file(log),
  },
)
let port = 0
while (!port) {
  await Bun.sleep(50)
  port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(readFileSync(log, 'utf8'))?.[1] ?? 0)
}
const ssh = [
  'ssh',
  '-p',
  String(port),
  ...batchSshOptions(join(dir, 'id')),
  '-o',
  `User=${C1}`,
  ...(values.cipher ? ['-c', values.cipher] : []),
  '127.0.0.1',
]
const file = `/root/bench-${values.mib}m`
Bun.spawnSync([
  'incus',
  'exec',
  C1,
  '--',
  'sh',
  '-c',
  `[ -s ${file} ] || head -c ${values.mib}M /dev/urandom > ${file}`,
])
const cmd =
  values.dir === 'down'
    ? `${ssh.join(' ')} cat ${file} > /dev/null`
    : `head -c ${values.mib}M /dev/zero | ${ssh.join(' ')} 'cat > /dev/null'`
const cpuOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')
  return (Number(stat[13]) + Number(stat[14])) / 100
}
const threads = () => {
  const m = new Map<string, number>()
  for (const t of readdirSync(`/proc/${serve.pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${serve.pid}/task/${t}/stat`, 'utf8')
      const name = f.slice(f.indexOf('(') + 1, f.lastIndexOf(')'))
      const st = f.slice(f.lastIndexOf(')') + 2).split(' ')
      m.set(`${name}/${t}`, (Number(st[11]) + Number(st[12])) / 100)
    } catch {}
  }
  return m
}
const th0 = threads()
const cpu0 = cpuOf(serve.pid)
const t = performance.now()
const p = Bun.spawnSync(['bash', '-c', `time (${cmd})`], { stderr: 'pipe' })
const secs = (performance.now() - t) / 1000
console.log(
  `${values.dir} ${values.mib} MiB: ${secs.toFixed(2)} s, ${((Number(values.mib) * 1.048576) / secs).toFixed(0)} MB/s; client ${p.stderr.toString().trim().replace(/\s+/g, ' ')}`,
)
console.log(
  `serve CPU during the transfer (login included): ${(cpuOf(serve.pid) - cpu0).toFixed(2)} s`,
)
for (const [k, v] of threads()) {
  const d = v - (th0.get(k) ?? 0)
  if (d > 0.01) console.log(`  thread ${k}: ${d.toFixed(2)} s`)
}
serve.kill('SIGINT')
await serve.exited
const prof = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
if (!prof) throw new Error('no profile written')
type Node = {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
const data = JSON.parse(readFileSync(join(dir, prof), 'utf8')) as {
  nodes: Node[]
  samples: number[]
}
const self = new Map<number, number>()
for (const s of data.samples) self.set(s, (self.get(s) ?? 0) + 1)
const byName = new Map<string, number>()
for (const n of data.nodes) {
  const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*node_modules\//, '').replace(root, '')}:${n.callFrame.lineNumber}`
  byName.set(k, (byName.get(k) ?? 0) + (self.get(n.id) ?? 0))
}
const total = data.samples.length
for (const [k, v] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
  console.log(`${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
console.log(`profile: ${join(dir, prof)}`)
