// bench/route: throughput and session setup time through `burrow route` (embedded state and
// etcd) beside `ssh -J` through the same gateway sshd and beside a direct connection.
// Run as root after `bash scripts/provision` and a build: ./node_modules/.bin/bun bench/route/run.ts
// Options: --bytes N (default 1 GiB; 0 = setup only), --runs N setup samples per mode (default
// 20), --only REGEX (measure only the matching modes, plus direct and ssh -J), --json,
// --baseline PATH: also measure another burrow build in the same rounds ("[baseline]" rows), to
// compare two builds side by side. BURROW_BIN=PATH measures another build (tests/route/support.ts).
// Targets (issue #7): throughput ≥ 0.95× ProxyJump; setup ≤ ProxyJump + 50 ms.
//
// One gateway sshd serves every mode, each on its own port (`Match LocalPort`), so the modes can
// take turns: every round runs each mode once, in a rotating order, and load from anything else
// on the machine falls on all of them alike. Setup is the median of the rounds, with the
// quartiles as its spread. Besides burrow, these rows take the difference to ProxyJump apart:
// - `ForceCommand ssh`: the same gateway running plain `exec ssh … -- "$SSH_ORIGINAL_COMMAND"`,
//   i.e. what any ForceCommand gateway costs before burrow does anything (sshd's session, the
//   user's login shell, a second ssh client); route − this row is burrow's own share, less what
//   `burrow route connect` saves (docs/route.md).
// - `route (embedded), SetEnv SHLVL=1`: sshd starts ForceCommand as `$SHELL -c …`, and bash then
//   reads /etc/bash.bashrc and ~/.bashrc (it does for every command sshd starts); SHLVL=1 makes it
//   skip them (docs/route.md). route − this row is what the gateway user's rc files cost.
// - `… NoDelay gateway`: the same sshd_config served as `sshd -i` on connections accepted from a
//   TCP_NODELAY listening socket (as systemd's NoDelay=yes does; socat here), for ProxyJump and
//   route alike. sshd leaves Nagle on for sessions without a terminal, and its session channel's
//   open confirmation then waits for the client's delayed ACK (~40 ms on Linux); ProxyJump's
//   channel does not (docs/route.md).
// - `… state service`: the same as the rows without it, but the session reaches the store through
//   `burrow route state-service` over its unix socket (state.access: service, the default; the
//   other rows use state.access: direct, the session opening the store itself).
// Throughput is the median of 3 uploads per mode, also taken in turns.

import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { killTree, readBanner, startTcpSshd } from '../../tests/support/sshd'
import { startEtcd } from '../../tests/route/etcd'
import { BURROW, gatewaySshArgs, routeYaml, startLab } from '../../tests/route/support'

const { values } = parseArgs({
  options: {
    bytes: { type: 'string' },
    runs: { type: 'string' },
    json: { type: 'boolean' },
    baseline: { type: 'string' },
    only: { type: 'string' },
  },
})
const BYTES = Number(values.bytes ?? 2 ** 30)
const RUNS = Number(values.runs ?? 20)

interface Mode {
  name: string
  /** gateway port, or undefined for the modes that do not log in to the gateway */
  port?: number
  argv: string[]
  setups: number[]
}

async function timed(argv: string[], stdinBytes = 0): Promise<number> {
  const t0 = performance.now()
  const cmd = stdinBytes
    ? ['sh', '-c', `head -c ${stdinBytes} /dev/zero | "$@"`, 'sh', ...argv]
    : argv
  const p = Bun.spawn(cmd, { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' })
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()])
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}: ${err}`)
  return performance.now() - t0
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  const i = (s.length - 1) * q
  return s[Math.floor(i)]! + (s[Math.ceil(i)]! - s[Math.floor(i)]!) * (i - Math.floor(i))
}
const median = (xs: number[]) => quantile(xs, 0.5)

const lab = await startLab(1)
const etcd = await startEtcd()
// daemons must not outlive a failed run
let services: Bun.Subprocess[] = []
const cleanup = async () => {
  for (const p of services) p.kill('SIGTERM')
  await Promise.all(services.map((p) => p.exited))
  await etcd.stop()
  await lab.stop()
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)))
const pub = readFileSync(`${lab.key}.pub`, 'utf8')
const dest = lab.dests[0]!
const embeddedYaml = routeYaml(lab, [`127.0.0.1:${dest.port}`])
const etcdYaml = `${embeddedYaml}etcd:\n  endpoints: ["${etcd.endpoint}"]\n`
// the state service's rows: sessions reach the store only through its socket
const viaService = (yaml: string, socket: string) =>
  yaml
    .replace('  access: direct', `  access: service\n  socket: ${socket}`)
    .replace(/^ {2}path: (.*)$/m, '  path: $1.svc')
const serviceSockets = {
  embedded: join(lab.dir, 'brt-svc.sock'),
  etcd: join(lab.dir, 'brt-svc-etcd.sock'),
}
// the documented setup-latency option: the gateway's ssh keeps one master connection per
// user and destination, so a new session skips the second key exchange and authentication
const master = [
  '-o',
  'ControlMaster=auto',
  '-o',
  `ControlPath=${lab.dir}/cm-%C`,
  '-o',
  'ControlPersist=60',
]
const withMaster = (yaml: string) =>
  yaml.replace(
    /^ {2}args: \[(.*)\]$/m,
    (_, a) => `  args: [${a}, ${master.map((x) => JSON.stringify(x)).join(', ')}]`,
  )
const config = (name: string, yaml: string) => {
  const path = join(lab.dir, `${name}.yaml`)
  writeFileSync(path, yaml)
  return path
}
const route = (path: string, bin = BURROW) => `ForceCommand ${bin} route --config ${path}`
const embedded = config('embedded', embeddedYaml)
// what burrow runs, minus burrow
const floor = `ForceCommand exec ssh ${gatewaySshArgs(lab.key).join(' ')} -p ${dest.port} 127.0.0.1 -- "$SSH_ORIGINAL_COMMAND"`
const gatewayModes: { name: string; sshd: string[] }[] = [
  { name: 'route (embedded)', sshd: [route(embedded)] },
  { name: 'route (embedded), SetEnv SHLVL=1', sshd: [route(embedded), 'SetEnv SHLVL=1'] },
  { name: 'ForceCommand ssh (no burrow)', sshd: [floor] },
  { name: 'route (etcd)', sshd: [route(config('etcd', etcdYaml))] },
  {
    name: 'route (embedded, ControlMaster)',
    sshd: [route(config('embedded-cm', withMaster(embeddedYaml)))],
  },
  { name: 'route (etcd, ControlMaster)', sshd: [route(config('etcd-cm', withMaster(etcdYaml)))] },
  {
    name: 'route (embedded, state service)',
    sshd: [route(config('svc', viaService(embeddedYaml, serviceSockets.embedded)))],
  },
  {
    name: 'route (etcd, state service)',
    sshd: [route(config('svc-etcd', viaService(etcdYaml, serviceSockets.etcd)))],
  },
]
services = [
  Bun.spawn([BURROW, 'route', 'state-service', '--config', join(lab.dir, 'svc.yaml')], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'inherit',
  }),
  Bun.spawn([BURROW, 'route', 'state-service', '--config', join(lab.dir, 'svc-etcd.yaml')], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'inherit',
  }),
]
for (const sock of Object.values(serviceSockets)) {
  for (let i = 0; !existsSync(sock); i++) {
    if (i > 100) {
      await cleanup()
      throw new Error(`no state service on ${sock}`)
    }
    await Bun.sleep(50)
  }
}
if (values.baseline) {
  const base = values.baseline
  gatewayModes.push(
    { name: 'route (embedded) [baseline]', sshd: [route(embedded, base)] },
    {
      name: 'route (embedded), SetEnv SHLVL=1 [baseline]',
      sshd: [route(embedded, base), 'SetEnv SHLVL=1'],
    },
    { name: 'route (etcd) [baseline]', sshd: [route(join(lab.dir, 'etcd.yaml'), base)] },
  )
}
// ForceCommand applies to sessions only; ProxyJump opens a direct-tcpip channel, so the very
// same gateway sshd serves `ssh -J` untouched (on its first port, route (embedded)'s)
const gw = await startTcpSshd({
  authorizedKeys: [pub],
  extraPorts: gatewayModes.length - 1,
  sshdConfig: [route(embedded)],
}).catch(async (err) => {
  await cleanup()
  throw err
})
// one Match block per port, now that the ports are known; SIGHUP makes sshd re-exec itself with
// the new config on the same ports (and pid)
writeFileSync(
  join(gw.dir, 'sshd_config'),
  `${readFileSync(join(gw.dir, 'sshd_config'), 'utf8')}${gatewayModes.map((m, i) => [`Match LocalPort ${gw.ports[i]}`, ...m.sshd.map((l) => `  ${l}`)].join('\n')).join('\n')}\n`,
)
process.kill(gw.pid, 'SIGHUP')
await Bun.sleep(200)
for (const port of gw.ports) {
  for (let tries = 0; ; tries++) {
    try {
      await readBanner({ host: '127.0.0.1', port }, 1000)
      break
    } catch (err) {
      if (tries > 50) {
        await gw.stop()
        await cleanup()
        throw err
      }
      await Bun.sleep(100)
    }
  }
}
const client = join(lab.dir, 'client_config')
writeFileSync(
  client,
  [
    'Host gw',
    `  HostName 127.0.0.1`,
    `  Port ${gw.port}`,
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
  { name: 'direct', argv: ssh('-p', String(dest.port), '127.0.0.1'), setups: [] },
  { name: 'ssh -J gateway', argv: ssh('dest-jump'), setups: [] },
  ...gatewayModes.map((m, i) => ({
    name: m.name,
    port: gw.ports[i],
    argv: ssh('-p', String(gw.ports[i]), '127.0.0.1'),
    setups: [],
  })),
]

// --only: keep the reference rows and the matching ones (the unused ports stay idle)
if (values.only) {
  const only = new RegExp(values.only)
  for (let i = modes.length - 1; i >= 0; i--)
    if (!/^(direct|ssh -J gateway)$/.test(modes[i]!.name) && !only.test(modes[i]!.name))
      modes.splice(i, 1)
}

// the NoDelay gateway: same config and keys, one `sshd -i` per connection on a NODELAY socket
const freePort = async () => {
  const srv = net.createServer().listen(0, '127.0.0.1')
  await new Promise((r) => srv.once('listening', r))
  const port = (srv.address() as net.AddressInfo).port
  await new Promise((r) => srv.close(r))
  return port
}
const ndPort = await freePort()
const nd = Bun.spawn(
  [
    'socat',
    `TCP-LISTEN:${ndPort},bind=127.0.0.1,fork,reuseaddr,nodelay`,
    `EXEC:/usr/sbin/sshd -i -e -f ${join(gw.dir, 'sshd_config')} -o SetEnv=SHLVL=1,nofork`,
  ],
  { detached: true, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
)
writeFileSync(
  client,
  `Host dest-jump-nd\n  HostName 127.0.0.1\n  Port ${dest.port}\n  ProxyJump root@127.0.0.1:${ndPort}\n${readFileSync(client, 'utf8')}`,
)
if (!values.only)
  modes.push(
    { name: 'ssh -J gateway (NoDelay gateway)', argv: ssh('dest-jump-nd'), setups: [] },
    {
      name: 'route (embedded), SetEnv SHLVL=1, NoDelay gateway',
      port: ndPort,
      argv: ssh('-p', String(ndPort), '127.0.0.1'),
      setups: [],
    },
  )

/**
 * burrow alone, without the gateway sshd in front: `burrow route` started the way sshd starts it
 * (SSH_CONNECTION, command `true`), BURROW_DEBUG on. `to ssh` is burrow's own time until it
 * starts ssh (config, state, selection; from its debug line), `total` the whole process, which
 * includes ssh's login to the host and, after it, unregistering. Taken in turns like the rest.
 */
const alone = [
  { name: 'embedded, direct', config: join(lab.dir, 'embedded.yaml') },
  { name: 'embedded, state service', config: join(lab.dir, 'svc.yaml') },
  { name: 'etcd, direct', config: join(lab.dir, 'etcd.yaml') },
  { name: 'etcd, state service', config: join(lab.dir, 'svc-etcd.yaml') },
].map((m) => ({ ...m, toSsh: [] as number[], total: [] as number[] }))
async function runAlone(m: (typeof alone)[0]): Promise<void> {
  const t0 = performance.now()
  const p = Bun.spawn([BURROW, 'route', '--config', m.config], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      ...process.env,
      BURROW_DEBUG: '1',
      SSH_CONNECTION: '127.0.0.1 40000 127.0.0.1 22',
      SSH_ORIGINAL_COMMAND: 'true',
    },
  })
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()])
  if (code !== 0) throw new Error(`burrow route --config ${m.config} exited ${code}: ${err}`)
  m.total.push(performance.now() - t0)
  const first = /\+([0-9.]+) ms ssh /.exec(err)
  if (first) m.toSsh.push(Number(first[1]))
}

const results: {
  mode: string
  mbps: number
  setupMs: number
  p25: number
  p75: number
  min: number
  max: number
}[] = []
try {
  for (let tries = 0; ; tries++) {
    try {
      await readBanner({ host: '127.0.0.1', port: ndPort }, 1000)
      break
    } catch (err) {
      if (tries > 50) throw err
      await Bun.sleep(100)
    }
  }
  // round 0 warms up (host keys, page cache, state files, ControlMaster) and is not counted
  for (let round = 0; round <= RUNS; round++) {
    for (let i = 0; i < modes.length; i++) {
      const m = modes[(i + round) % modes.length]!
      const ms = await timed([...m.argv, 'true'])
      if (round > 0) m.setups.push(ms)
    }
  }
  for (let round = 0; round <= RUNS; round++) {
    for (let i = 0; i < alone.length; i++) {
      const m = alone[(i + round) % alone.length]!
      await runAlone(m)
      // round 0 warms up
      if (round === 0) {
        m.toSsh.length = 0
        m.total.length = 0
      }
    }
  }
  const rates = new Map<Mode, number[]>(modes.map((m) => [m, []]))
  for (let k = 0; k < (BYTES > 0 ? 3 : 0); k++) {
    for (const m of modes)
      rates
        .get(m)!
        .push(BYTES / 1e6 / ((await timed([...m.argv, 'cat > /dev/null'], BYTES)) / 1000))
  }
  for (const m of modes) {
    const s = m.setups
    results.push({
      mode: m.name,
      mbps: BYTES > 0 ? median(rates.get(m)!) : NaN,
      setupMs: median(s),
      p25: quantile(s, 0.25),
      p75: quantile(s, 0.75),
      min: Math.min(...s),
      max: Math.max(...s),
    })
  }
} finally {
  await killTree(nd.pid)
  await gw.stop()
  await cleanup()
}

const get = (name: string) => results.find((r) => r.mode === name) ?? { setupMs: NaN }
const jump = results.find((r) => r.mode === 'ssh -J gateway')!
const breakdown = {
  'state service (embedded, state service row − route (embedded) row)':
    get('route (embedded, state service)').setupMs - get('route (embedded)').setupMs,
  'state service (etcd, state service row − route (etcd) row)':
    get('route (etcd, state service)').setupMs - get('route (etcd)').setupMs,
  'gateway user rc files (route − SHLVL=1 row)':
    get('route (embedded)').setupMs - get('route (embedded), SetEnv SHLVL=1').setupMs,
  'burrow (route − ForceCommand ssh row: its own cost less the ~40 ms Nagle wait route connect saves)':
    get('route (embedded)').setupMs - get('ForceCommand ssh (no burrow)').setupMs,
  'ForceCommand gateway without burrow (ForceCommand ssh row − ProxyJump)':
    get('ForceCommand ssh (no burrow)').setupMs - jump.setupMs,
  'route, SHLVL=1, NoDelay gateway − ProxyJump through that gateway':
    get('route (embedded), SetEnv SHLVL=1, NoDelay gateway').setupMs -
    get('ssh -J gateway (NoDelay gateway)').setupMs,
}
const aloneRows = alone.map((m) => ({
  state: m.name,
  toSshMs: median(m.toSsh),
  totalMs: median(m.total),
  totalP25: quantile(m.total, 0.25),
  totalP75: quantile(m.total, 0.75),
}))
if (values.json)
  console.log(
    JSON.stringify(
      {
        bytes: BYTES,
        runs: RUNS,
        burrow: BURROW,
        baseline: values.baseline,
        results,
        breakdown,
        alone: aloneRows,
      },
      null,
      2,
    ),
  )
else {
  if (values.baseline) console.log(`burrow: ${BURROW}; [baseline]: ${values.baseline}`)
  console.log(
    `${(BYTES / 2 ** 20).toFixed(0)} MiB upload (cat > /dev/null); setup = \`ssh … true\`, ${RUNS} interleaved rounds: median (p25–p75)`,
  )
  console.log(
    '| mode | throughput MB/s | × ProxyJump | setup ms | p25–p75 ms | − ProxyJump ms | × ProxyJump |',
  )
  console.log('|---|---:|---:|---:|---:|---:|---:|')
  for (const r of results) {
    console.log(
      `| ${r.mode} | ${Number.isNaN(r.mbps) ? '–' : r.mbps.toFixed(0)} | ${Number.isNaN(r.mbps) ? '–' : (r.mbps / jump.mbps).toFixed(2)} | ${r.setupMs.toFixed(1)} | ${r.p25.toFixed(0)}–${r.p75.toFixed(0)} | ${(r.setupMs - jump.setupMs).toFixed(1)} | ${(r.setupMs / jump.setupMs).toFixed(2)} |`,
    )
  }
  console.log('\nwhere route’s setup goes, beyond ProxyJump (differences of medians):')
  for (const [k, v] of Object.entries(breakdown))
    if (!Number.isNaN(v)) console.log(`  ${v.toFixed(1).padStart(7)} ms  ${k}`)
  console.log(`\nburrow route alone (no gateway sshd), ${RUNS} interleaved rounds, median:`)
  console.log('| state | burrow until ssh starts ms | whole burrow process ms | p25–p75 ms |')
  console.log('|---|---:|---:|---:|')
  for (const r of aloneRows)
    console.log(
      `| ${r.state} | ${r.toSshMs.toFixed(1)} | ${r.totalMs.toFixed(1)} | ${r.totalP25.toFixed(0)}–${r.totalP75.toFixed(0)} |`,
    )
  const bad = results.filter(
    (r) =>
      r.mode.startsWith('route') &&
      !r.mode.endsWith('[baseline]') &&
      (r.mbps < 0.95 * jump.mbps || r.setupMs > jump.setupMs + 50),
  )
  console.log(
    bad.length
      ? `targets missed: ${bad.map((r) => r.mode).join(', ')}`
      : 'targets met: throughput ≥ 0.95× ProxyJump, setup ≤ ProxyJump + 50 ms',
  )
}
