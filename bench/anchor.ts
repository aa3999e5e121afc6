/**
 * The anchors bench/serve.ts and bench/serve-files.ts measure burrow serve against: OpenSSH sshd
 * (+ sftp-server) running inside the same container, reached through an Incus proxy device on a
 * host unix socket and `burrow proxy` with fd passing (ssh then talks to the socket directly),
 * and the CPU time of a process. Not a test file.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { incus } from '../src/incus/testing'
import { batchSshOptions } from '../tests/support/sshd'
import { daemon, FWD, sh } from '../tests/serve/fwd-support'

const BURROW = join(import.meta.dir, '../dist/burrow')
const DEVICE = 'bsp-bench-sshd'

/** Starts sshd in FWD for `key` (root) and returns ssh's options to reach it (host: `inside`). */
export async function sshdInside(
  key: string,
  dir: string,
): Promise<{ opts: string[]; cpu(): Promise<number>; close(): Promise<void> }> {
  const pub = readFileSync(`${key}.pub`, 'utf8').trim()
  await sh(`mkdir -p /root/.ssh /run/sshd && echo '${pub}' > /root/.ssh/authorized_keys`)
  await daemon('pgrep -x sshd >/dev/null || /usr/sbin/sshd')
  const sock = join(dir, 'sshd.sock')
  await incus('config', 'device', 'remove', FWD, DEVICE).catch(() => {})
  await incus(
    'config',
    'device',
    'add',
    FWD,
    DEVICE,
    'proxy',
    'bind=host',
    `listen=unix:${sock}`,
    'connect=tcp:127.0.0.1:22',
  )
  return {
    /** CPU seconds of sshd and its reaped children (every finished connection) so far */
    async cpu() {
      const r = await sh('cat /proc/$(pgrep -o -x sshd)/stat')
      const st = r.stdout.slice(r.stdout.lastIndexOf(')') + 2).split(' ')
      return (Number(st[11]) + Number(st[12]) + Number(st[13]) + Number(st[14])) / 100
    },
    opts: [
      ...batchSshOptions(key),
      '-o',
      'ProxyUseFdpass=yes',
      '-o',
      `ProxyCommand=${BURROW} proxy unix%%${sock} %p`,
      '-o',
      'User=root',
    ],
    close: () => incus('config', 'device', 'remove', FWD, DEVICE).then(() => {}),
  }
}

/** user+system CPU seconds of a live process so far */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const stat = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return (Number(stat[11]) + Number(stat[12])) / 100
}

export interface Run {
  sec: number
  /** CPU seconds of the client process (ssh, sftp+ssh, incus) */
  client: number
  /** CPU seconds of burrow serve during the run, when `servePid` was given */
  server?: number
}

/** Runs argv with stdin/stdout from/to files; throws on a non-zero exit. */
export async function timed(
  argv: string[],
  io: { stdin?: string; stdout?: string; servePid?: number } = {},
): Promise<Run> {
  const s0 = io.servePid ? cpuSeconds(io.servePid) : 0
  const t = performance.now()
  const p = Bun.spawn(argv, {
    stdin: io.stdin ? Bun.file(io.stdin) : 'ignore',
    stdout: Bun.file(io.stdout ?? '/dev/null'),
    stderr: 'pipe',
  })
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()])
  const sec = (performance.now() - t) / 1000
  if (code !== 0) throw new Error(`${argv.join(' ')}: ${err}`)
  const u = p.resourceUsage()!.cpuTime
  return {
    sec,
    client: Number(u.user + u.system) / 1e6,
    server: io.servePid ? cpuSeconds(io.servePid) - s0 : undefined,
  }
}

/** a markdown row: burrow, sshd inside, incus, the two ratios, CPU s/GiB burrow and client */
export function row(what: string, mib: number, b: Run, sshd: Run, inc: Run | undefined): string {
  const mbs = (r: Run) => `${((mib * 1.048576) / r.sec).toFixed(0)} MB/s`
  const perGiB = (s: number | undefined) => (s === undefined ? '–' : ((s * 1024) / mib).toFixed(2))
  return `| ${what} | ${mbs(b)} | ${mbs(sshd)} | ${inc ? mbs(inc) : '–'} | ${(sshd.sec / b.sec).toFixed(2)}× | ${inc ? `${(inc.sec / b.sec).toFixed(2)}×` : '–'} | ${perGiB(b.server)} / ${perGiB(b.client)} | ${perGiB(sshd.server)} / ${perGiB(sshd.client)} |`
}

export const HEADER = [
  '| what | burrow serve | sshd in container | incus | burrow / sshd | burrow / incus | CPU s/GiB burrow / its client | CPU s/GiB sshd / its client |',
  '|---|---|---|---|---|---|---|---|',
].join('\n')
