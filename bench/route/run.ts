// bench/route: 1 GiB throughput and session setup time through `burrow route` (embedded state and
// etcd) beside `ssh -J` through the same gateway sshd and beside a direct connection.
// Run as root after `bash scripts/provision` and a build: ./node_modules/.bin/bun bench/route/run.ts
// Options: --bytes N (default 1 GiB), --runs N setup samples per mode (default 20), --json.
// Targets (issue #7): throughput ≥ 0.95× ProxyJump; setup ≤ ProxyJump + 50 ms.

import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startTcpSshd } from '../../tests/support/sshd'
import { startEtcd } from '../../tests/route/etcd'
import { BURROW, routeYaml, startLab } from '../../tests/route/support'

const { values } = parseArgs({ options: { bytes: { type: 'string' }, runs: { type: 'string' }, json: { type: 'boolean' } } })
const BYTES = Number(values.bytes ?? 2 ** 30)
const RUNS = Number(values.runs ?? 20)

interface Mode {
  name: string
  argv: string[]
  before?: () => void
}

async function timed(argv: string[], stdinBytes = 0): Promise<number> {
  const t0 = performance.now()
  const cmd = stdinBytes ? ['sh', '-c', `head -c ${stdinBytes} /dev/zero | "$@"`, 'sh', ...argv] : argv
  const p = Bun.spawn(cmd, { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' })
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()])
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}: ${err}`)
  return performance.now() - t0
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const lab = await startLab(1)
const etcd = await startEtcd()
// daemons must not outlive a failed run
const cleanup = async () => {
  await etcd.stop()
  await lab.stop()
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)))
const pub = readFileSync(`${lab.key}.pub`, 'utf8')
const configPath = join(lab.dir, 'route.yaml')
const embeddedYaml = routeYaml(lab, [`127.0.0.1:${lab.dests[0]!.port}`])
const etcdYaml = `${embeddedYaml}etcd:\n  endpoints: ["${etcd.endpoint}"]\n`
// the documented setup-latency option: the gateway's ssh keeps one master connection per
// user and destination, so a new session skips the second key exchange and authentication
const master = ['-o', 'ControlMaster=auto', '-o', `ControlPath=${lab.dir}/cm-%C`, '-o', 'ControlPersist=60']
const withMaster = (yaml: string) => yaml.replace(/^  args: \[(.*)\]$/m, (_, a) => `  args: [${a}, ${master.map((x) => JSON.stringify(x)).join(', ')}]`)
writeFileSync(configPath, embeddedYaml)
// ForceCommand applies to sessions only; ProxyJump opens a direct-tcpip channel, so the very
// same gateway sshd serves `ssh -J` untouched
const gw = await startTcpSshd({ authorizedKeys: [pub], sshdConfig: [`ForceCommand ${BURROW} route --config ${configPath}`] }).catch(async (err) => {
  await cleanup()
  throw err
})
const routePort = gw.port
const jumpPort = gw.port
const dest = lab.dests[0]!
const client = join(lab.dir, 'client_config')
writeFileSync(
  client,
  [
    'Host gw',
    `  HostName 127.0.0.1`,
    `  Port ${jumpPort}`,
    'Host dest-jump',
    '  HostName 127.0.0.1',
    `  Port ${dest.port}`,
    '  ProxyJump gw',
    'Host *',
    '  User root',
    `  IdentityFile ${lab.key}`,
    '  IdentitiesOnly yes',
    '  BatchMode yes',
    '  StrictHostKeyChecking no',
    '  UserKnownHostsFile /dev/null',
    '  LogLevel ERROR',
    '',
  ].join('\n'),
)
const ssh = (...args: string[]) => ['ssh', '-F', client, ...args]
const modes: Mode[] = [
  { name: 'direct', argv: ssh('-p', String(dest.port), '127.0.0.1') },
  { name: 'ssh -J gateway', argv: ssh('dest-jump') },
  { name: 'route (embedded)', argv: ssh('-p', String(routePort), '127.0.0.1'), before: () => writeFileSync(configPath, embeddedYaml) },
  { name: 'route (etcd)', argv: ssh('-p', String(routePort), '127.0.0.1'), before: () => writeFileSync(configPath, etcdYaml) },
  {
    name: 'route (embedded, ControlMaster)',
    argv: ssh('-p', String(routePort), '127.0.0.1'),
    before: () => writeFileSync(configPath, withMaster(embeddedYaml)),
  },
  { name: 'route (etcd, ControlMaster)', argv: ssh('-p', String(routePort), '127.0.0.1'), before: () => writeFileSync(configPath, withMaster(etcdYaml)) },
]

const results: { mode: string; mbps: number; setupMs: number }[] = []
try {
  for (const m of modes) {
    m.before?.()
    await timed([...m.argv, 'true']) // warm-up: host keys, page cache, state file
    const setups: number[] = []
    for (let i = 0; i < RUNS; i++) setups.push(await timed([...m.argv, 'true']))
    const ms = await timed([...m.argv, 'cat > /dev/null'], BYTES)
    results.push({ mode: m.name, mbps: BYTES / 1e6 / (ms / 1000), setupMs: median(setups) })
  }
} finally {
  await gw.stop()
  await cleanup()
}

const jump = results.find((r) => r.mode === 'ssh -J gateway')!
if (values.json) console.log(JSON.stringify({ bytes: BYTES, runs: RUNS, results }, null, 2))
else {
  console.log(`${(BYTES / 2 ** 20).toFixed(0)} MiB upload (cat > /dev/null), setup = median of ${RUNS} \`ssh … true\``)
  console.log('| mode | throughput MB/s | × ProxyJump | setup ms | − ProxyJump ms |')
  console.log('|---|---:|---:|---:|---:|')
  for (const r of results) {
    console.log(`| ${r.mode} | ${r.mbps.toFixed(0)} | ${(r.mbps / jump.mbps).toFixed(2)} | ${r.setupMs.toFixed(1)} | ${(r.setupMs - jump.setupMs).toFixed(1)} |`)
  }
  const bad = results.filter((r) => r.mode.startsWith('route') && (r.mbps < 0.95 * jump.mbps || r.setupMs > jump.setupMs + 50))
  console.log(bad.length ? `targets missed: ${bad.map((r) => r.mode).join(', ')}` : 'targets met: throughput ≥ 0.95× ProxyJump, setup ≤ ProxyJump + 50 ms')
}
