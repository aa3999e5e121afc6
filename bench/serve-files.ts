#!/usr/bin/env bun
/**
 * bench/serve-files: one run each, in the same container (no NIC), aes128-gcm everywhere.
 *   SFTP put/get of N MiB (default 1 GiB, byte-exact): burrow serve (Incus SFTP endpoint) vs
 *     OpenSSH sshd + sftp-server inside the container, reached through `burrow proxy` to a unix
 *     socket (an Incus proxy device to its port 22; fd passing, so ssh talks to it directly)
 *   -L: N MiB from a server on 127.0.0.1 inside, via `ssh -L` through burrow serve vs the same
 *     server through an Incus proxy device from the host (no SSH)
 * usage: bun bench/serve-files.ts [--mib 1024]
 */
import { parseArgs } from 'node:util'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { incus } from '../src/backends/incus/testing'
import { prepareTargets, sshArgs, startServe } from '../tests/serve/support'
import { batchSshOptions } from '../tests/support/sshd'
import { burrowDevices, daemon, FWD, prepareFwd, sh, sha256 } from '../tests/serve/fwd-support'

const { values } = parseArgs({ options: { mib: { type: 'string', default: '1024' } } })
const MIB = Number(values.mib)
const BURROW = join(import.meta.dir, '../dist/burrow')
const GCM = ['-o', 'Ciphers=aes128-gcm@openssh.com']

await prepareTargets()
await prepareFwd()
const dir = mkdtempSync('/tmp/burrow-bench-files-')
const s = await startServe(['--max-startups', '100'])
const file = join(dir, 'data')
Bun.spawnSync(['sh', '-c', `head -c ${MIB}M /dev/urandom > ${file}`])
const sum = await sha256(file)

// OpenSSH inside: root's key, sshd on 127.0.0.1:22, reachable on the host at a unix socket
const pub = readFileSync(`${s.key}.pub`, 'utf8').trim()
await sh(`mkdir -p /root/.ssh /run/sshd && echo '${pub}' > /root/.ssh/authorized_keys`)
await daemon('pgrep -x sshd >/dev/null || /usr/sbin/sshd')
const sock = join(dir, 'sshd.sock')
for (const d of ['bench-sshd', 'bench-l'])
  await incus('config', 'device', 'remove', FWD, d).catch(() => {})
await incus(
  'config',
  'device',
  'add',
  FWD,
  'bench-sshd',
  'proxy',
  'bind=host',
  `listen=unix:${sock}`,
  'connect=tcp:127.0.0.1:22',
)

async function timed(argv: string[]): Promise<number> {
  const t = performance.now()
  const p = Bun.spawn(argv, { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' })
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()])
  if (code !== 0) throw new Error(`${argv.join(' ')}: ${err}`)
  return (performance.now() - t) / 1000
}

async function sftp(opts: string[], host: string): Promise<{ put: number; get: number }> {
  await sh('rm -f /root/bench-data')
  const back = join(dir, 'back')
  rmSync(back, { force: true })
  const put = await timed([
    'sh',
    '-c',
    `echo 'put ${file} /root/bench-data' | sftp ${opts.map((o) => `'${o}'`).join(' ')} -b - ${host}`,
  ])
  const get = await timed([
    'sh',
    '-c',
    `echo 'get /root/bench-data ${back}' | sftp ${opts.map((o) => `'${o}'`).join(' ')} -b - ${host}`,
  ])
  if ((await sha256(back)) !== sum) throw new Error('sftp copy differs')
  return { put, get }
}

const sshOpts = (args: string[]) => args.slice(1, -1)
const viaBurrow = await sftp(
  [...sshOpts(sshArgs(s, FWD, GCM))]
    .filter((x) => x !== '-p' && x !== String(s.port))
    .concat(['-P', String(s.port)]),
  '127.0.0.1',
)
const openssh = await sftp(
  [
    ...GCM,
    ...batchSshOptions(s.key),
    '-o',
    'ProxyUseFdpass=yes',
    '-o',
    `ProxyCommand=${BURROW} proxy unix%%${sock} %p`,
  ],
  'root@inside',
)

// -L: a server inside sends MIB MiB of zeros per connection
await sh('pkill -f "TCP-LISTEN:7003" ; true')
await daemon(
  `socat TCP-LISTEN:7003,bind=127.0.0.1,fork,reuseaddr SYSTEM:'head -c ${MIB}M /dev/zero'`,
)

/** reads everything a TCP/unix server sends, without ever half-closing (forkproxy would stop) */
function drain(target: { port: number } | { path: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now()
    let n = 0
    const c = net.connect(target as never)
    c.on('data', (d) => (n += d.length))
    c.on('close', () =>
      n === MIB << 20
        ? resolve((performance.now() - t) / 1000)
        : reject(new Error(`got ${n} bytes`)),
    )
    c.on('error', reject)
  })
}
const lport = 20000 + Math.floor(Math.random() * 20000)
const fwd = Bun.spawn(
  [...sshArgs(s, FWD, [...GCM, '-N', '-L', `127.0.0.1:${lport}:127.0.0.1:7003`])],
  { stdout: 'ignore', stderr: 'ignore' },
)
let lTime = 0
// the first connection also adds the device (about 1 s in Incus 6.0): warm up, then measure
let warm = 0
for (let i = 0; i < 100 && !warm; i++)
  warm = await drain({ port: lport }).catch(() => Bun.sleep(100).then(() => 0))
lTime = await drain({ port: lport })
fwd.kill()
// burrow removes its device now; the incus CLI does not retry on a concurrent change (ETag)
while ((await burrowDevices()).length) await Bun.sleep(100)
const dsock = join(dir, 'dev.sock')
await incus(
  'config',
  'device',
  'add',
  FWD,
  'bench-l',
  'proxy',
  'bind=host',
  `listen=unix:${dsock}`,
  'connect=tcp:127.0.0.1:7003',
)
const dTime = await drain({ path: dsock })

await incus('config', 'device', 'remove', FWD, 'bench-sshd')
await incus('config', 'device', 'remove', FWD, 'bench-l')
await sh('pkill -f "TCP-LISTEN:7003"; rm -f /root/bench-data; true')
await s.stop()
rmSync(dir, { recursive: true, force: true })

const mbs = (sec: number) => ((MIB * 1.048576) / sec).toFixed(0)
const row = (what: string, ours: number, theirs: number, base: string) =>
  `| ${what} | ${mbs(ours)} MB/s (${ours.toFixed(2)} s) | ${mbs(theirs)} MB/s (${theirs.toFixed(2)} s) | ${(theirs / ours).toFixed(2)}× ${base} |`
console.log(`\n${MIB} MiB, one run each\n`)
console.log('| what | burrow serve | baseline | burrow / baseline |')
console.log('|---|---|---|---|')
console.log(row('SFTP put', viaBurrow.put, openssh.put, 'sshd+sftp-server'))
console.log(row('SFTP get', viaBurrow.get, openssh.get, 'sshd+sftp-server'))
console.log(row('-L read', lTime, dTime, 'proxy device'))
