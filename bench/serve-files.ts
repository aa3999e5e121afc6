#!/usr/bin/env bun
/**
 * bench/serve-files: one run each, in the same container (no NIC), default client cipher list.
 *   SFTP put/get of N MiB (default 1 GiB, byte-exact): burrow serve vs OpenSSH sshd +
 *     sftp-server inside the container (bench/anchor.ts) vs `incus file push/pull`
 *   -L: N MiB from a server on 127.0.0.1 inside, via `ssh -L` through burrow serve vs through
 *     sshd inside vs the same server through an Incus proxy device from the host (no SSH)
 *   with CPU seconds per GiB of burrow serve and of the client
 * usage: bun bench/serve-files.ts [--mib 1024]
 */
import { parseArgs } from 'node:util'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { incus } from '../src/incus/testing'
import { prepareTargets, sshArgs, startServe } from '../tests/serve/support'
import { burrowDevices, daemon, FWD, prepareFwd, sh, sha256 } from '../tests/serve/fwd-support'
import type { Run } from './anchor'
import { cpuSeconds, HEADER, row, sshdInside, timed } from './anchor'

const { values } = parseArgs({ options: { mib: { type: 'string', default: '1024' } } })
const MIB = Number(values.mib)

await prepareTargets()
await prepareFwd()
const dir = mkdtempSync('/tmp/bsp-bench-files-')
const s = await startServe(['--max-startups', '100'])
// a failed run must not leave the server (and its devices) behind
process.on('exit', () => Bun.spawnSync(['kill', String(s.pid)], { stderr: 'ignore' }))
const file = join(dir, 'data')
Bun.spawnSync(['sh', '-c', `head -c ${MIB}M /dev/urandom > ${file}`])
const sum = await sha256(file)
const anchor = await sshdInside(s.key, dir)

/** SFTP put then get in two connections; `serverCpu` reads the server's CPU seconds so far */
async function sftp(
  opts: string[],
  host: string,
  serverCpu: () => number | Promise<number>,
): Promise<{ put: Run; get: Run }> {
  await sh('rm -f /root/bench-data')
  const back = join(dir, 'back')
  rmSync(back, { force: true })
  writeFileSync(join(dir, 'put'), `put ${file} /root/bench-data\n`)
  writeFileSync(join(dir, 'get'), `get /root/bench-data ${back}\n`)
  const c0 = await serverCpu()
  const put = await timed(['sftp', ...opts, '-b', '-', host], { stdin: join(dir, 'put') })
  const c1 = await serverCpu()
  const get = await timed(['sftp', ...opts, '-b', '-', host], { stdin: join(dir, 'get') })
  put.server = c1 - c0
  get.server = (await serverCpu()) - c1
  if ((await sha256(back)) !== sum) throw new Error('sftp copy differs')
  return { put, get }
}

const burrowOpts = sshArgs(s, FWD)
  .slice(1, -1)
  .filter((x) => x !== '-p' && x !== String(s.port))
  .concat(['-P', String(s.port)])
const viaBurrow = await sftp(burrowOpts, '127.0.0.1', () => cpuSeconds(s.pid))
const openssh = await sftp(anchor.opts, 'inside', () => anchor.cpu())
await sh('rm -f /root/bench-data')
const incusPut = await timed(['incus', 'file', 'push', file, `${FWD}/root/bench-data`])
rmSync(join(dir, 'back'), { force: true })
const incusGet = await timed(['incus', 'file', 'pull', `${FWD}/root/bench-data`, join(dir, 'back')])
if ((await sha256(join(dir, 'back'))) !== sum) throw new Error('incus file pull differs')

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
/**
 * `ssh -N -L` with `argv` (ssh and its options, without the host), a warm-up read, then one timed
 * read. `serverCpu` is burrow's (live) or sshd's (its reaped children: read after ssh is gone,
 * and halved, as it then covers the warm-up read too).
 */
async function forwardRead(
  argv: string[],
  host: string,
  serverCpu: () => number | Promise<number>,
  live: boolean,
): Promise<Run> {
  const lport = 20000 + Math.floor(Math.random() * 20000)
  const fwd = Bun.spawn([...argv, '-N', '-L', `127.0.0.1:${lport}:127.0.0.1:7003`, host], {
    stdout: 'ignore',
    stderr: 'ignore',
  })
  const s0 = await serverCpu()
  // the first connection also sets the path up (burrow adds a device, ~1 s in Incus 6.0)
  let warm = 0
  for (let i = 0; i < 100 && !warm; i++)
    warm = await drain({ port: lport }).catch(() => Bun.sleep(100).then(() => 0))
  const c0 = cpuSeconds(fwd.pid)
  const s1 = await serverCpu()
  const sec = await drain({ port: lport })
  const run: Run = { sec, client: cpuSeconds(fwd.pid) - c0 }
  if (live) run.server = (await serverCpu()) - s1
  fwd.kill()
  await fwd.exited
  if (!live) {
    await Bun.sleep(500)
    run.server = ((await serverCpu()) - s0) / 2
  }
  return run
}
const burrowArgs = sshArgs(s, FWD)
const lBurrow = await forwardRead(
  burrowArgs.slice(0, -1),
  burrowArgs.at(-1)!,
  () => cpuSeconds(s.pid),
  true,
)
const lSshd = await forwardRead(['ssh', ...anchor.opts], 'inside', () => anchor.cpu(), false)
// burrow removes its device now; the incus CLI does not retry on a concurrent change (ETag)
while ((await burrowDevices()).length) await Bun.sleep(100)
const dsock = join(dir, 'dev.sock')
await incus(
  'config',
  'device',
  'add',
  FWD,
  'bsp-bench-l',
  'proxy',
  'bind=host',
  `listen=unix:${dsock}`,
  'connect=tcp:127.0.0.1:7003',
)
const lDevice: Run = { sec: await drain({ path: dsock }), client: 0 }

await anchor.close()
await incus('config', 'device', 'remove', FWD, 'bsp-bench-l')
await sh('pkill -f "TCP-LISTEN:7003"; rm -f /root/bench-data; true')
await s.stop()
rmSync(dir, { recursive: true, force: true })

console.log(`\n${MIB} MiB, one run each, default client ciphers (burrow: chacha20-poly1305)\n`)
console.log(HEADER.replace('| incus |', '| incus file / proxy device |'))
console.log(row('SFTP put', MIB, viaBurrow.put, openssh.put, incusPut))
console.log(row('SFTP get', MIB, viaBurrow.get, openssh.get, incusGet))
console.log(row('-L read', MIB, lBurrow, lSshd, lDevice))
