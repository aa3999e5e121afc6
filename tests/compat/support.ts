/**
 * The compatibility suite's target: one Debian container (the project's test image) reached two
 * ways — through `burrow serve`, and through the OpenSSH sshd inside it (the control), over an
 * Incus proxy device on a loopback port. git and python3 (ansible's modules need it on the
 * target) are the host's own Debian binaries, bind-mounted read-only: the container has no
 * network to install them. Names carry the `bsc-` prefix of the suite that introduced them.
 */
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { run } from '../../src/incus'
import { ensureContainer, incus, testClient } from '../../src/incus/testing'
import { batchSshOptions } from '../support/sshd'

export const COMPAT = 'bsc-compat'
const CONTROL_DEVICE = 'bsc-sshd'

export interface Target {
  /** 'burrow' or 'sshd' */
  name: string
  port: number
  user: string
  key: string
}

export interface Result {
  code: number
  stdout: string
  stderr: string
}

/** Runs a host command; never throws. */
export async function cmd(
  argv: string[],
  opts: { stdin?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<Result> {
  const p = Bun.spawn(argv, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdin: opts.stdin === undefined ? 'ignore' : new Blob([opts.stdin]),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
  const [code, stdout, stderr] = await Promise.all([
    p.exited,
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
  ])
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** A shell script as root in the container (not through either SSH server). */
export async function inside(script: string): Promise<Result> {
  return run(testClient(), COMPAT, 'default', ['/bin/sh', '-c', script])
}

/** OpenSSH client options for a target (ssh, scp, sftp, rsync -e, git, sshfs, lftp) */
export function sshOpts(t: Target): string[] {
  return [...batchSshOptions(t.key), '-o', 'IdentityAgent=none', '-o', `User=${t.user}`]
}

function mounts(): [string, string][] {
  const py = realpathSync('/usr/bin/python3')
  const lib = `/usr/lib/${py.split('/').at(-1)}`
  const expat = realpathSync('/usr/lib/x86_64-linux-gnu/libexpat.so.1')
  return [
    [py, py],
    [lib, lib],
    ['/usr/bin/git', '/usr/bin/git'],
    ['/usr/lib/git-core', '/usr/lib/git-core'],
    [expat, '/usr/lib/x86_64-linux-gnu/libexpat.so.1'],
  ]
}

const SETUP = ['ssh-keygen -A >/dev/null', 'mkdir -p /run/sshd'].join('\n')

/** The container with its control sshd answering on a loopback port; `pubkey` may log in as root. */
export async function prepareCompat(pubkey: string): Promise<{ controlPort: number }> {
  await ensureContainer({ name: COMPAT, setup: SETUP, marker: '/etc/bsc-compat-setup' })
  const have = await incus('config', 'device', 'list', COMPAT)
  const names = new Set(have.split('\n').map((l) => l.trim()))
  for (const [i, [source, path]] of mounts().entries()) {
    const dev = `bsc-tool${i}`
    if (!names.has(dev))
      await incus(
        'config',
        'device',
        'add',
        COMPAT,
        dev,
        'disk',
        `source=${source}`,
        `path=${path}`,
        'readonly=true',
      )
  }
  const py = realpathSync('/usr/bin/python3').split('/').at(-1)
  const r = await inside(
    [
      `ln -sf ${py} /usr/bin/python3`,
      'for t in git-upload-pack git-receive-pack git-upload-archive; do ln -sf git /usr/bin/$t; done',
      'mkdir -p /root/.ssh && chmod 700 /root/.ssh',
      `printf '%s\\n' '${pubkey.trim()}' > /root/.ssh/authorized_keys`,
      'pgrep -x sshd >/dev/null || /usr/sbin/sshd',
      // the half-close peer: echoes what it reads, answers after the client's EOF
      "printf '#!/bin/sh\\ncat\\necho pong\\n' > /usr/local/bin/bsc-echo && chmod +x /usr/local/bin/bsc-echo",
      // the other way round: greets, half-closes, then still reads the client's line
      'printf \'#!/bin/sh\\necho greet\\nexec >&-\\nread l\\necho "$l" >> /tmp/bsc-greet.out\\n\' > /usr/local/bin/bsc-greet && chmod +x /usr/local/bin/bsc-greet',
      'pgrep -f "^socat TCP-LISTEN:7302" >/dev/null || setsid -f socat TCP-LISTEN:7302,bind=127.0.0.1,fork,reuseaddr EXEC:/usr/local/bin/bsc-greet,pipes </dev/null >/dev/null 2>&1',
      'pgrep -f "^socat TCP-LISTEN:7301" >/dev/null || setsid -f socat TCP-LISTEN:7301,bind=127.0.0.1,fork,reuseaddr EXEC:/usr/local/bin/bsc-echo </dev/null >/dev/null 2>&1',
    ].join('\n'),
  )
  if (r.code !== 0) throw new Error(`compat container setup failed: ${r.stderr}`)
  let port = 0
  if (names.has(CONTROL_DEVICE)) {
    const listen = (await incus('config', 'device', 'get', COMPAT, CONTROL_DEVICE, 'listen')).trim()
    port = Number(listen.split(':').at(-1))
  } else {
    port = 20000 + Math.floor(Math.random() * 20000)
    await incus(
      'config',
      'device',
      'add',
      COMPAT,
      CONTROL_DEVICE,
      'proxy',
      `listen=tcp:127.0.0.1:${port}`,
      'connect=tcp:127.0.0.1:22',
      'bind=host',
    )
  }
  return { controlPort: port }
}

/** A row: its result for a target, compared between burrow and the control. */
export type Row = [
  client: string,
  op: string,
  /** the control's result must be this (equal failures do not pass) */
  expected: string | RegExp,
  run: (t: Target) => Promise<string>,
]

/** The OpenSSH client for `t`: ssh [extra] -p PORT [options] 127.0.0.1 [command] */
export function sshArgv(t: Target, extra: string[] = [], command?: string): string[] {
  const cmdline = command === undefined ? [] : [command]
  return ['ssh', ...extra, '-p', String(t.port), ...sshOpts(t), '127.0.0.1', ...cmdline]
}

export const brief = (r: Result) => `code=${r.code} out=${r.stdout.trim()} err=${r.stderr.trim()}`

/** Runs `fn` with a temp dir that is removed afterwards. */
export async function inScratch<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync('/tmp/bsc-compat-')
  try {
    return await fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Polls `check` every 100 ms, at most `tries` times. */
export async function waitFor(check: () => Promise<boolean> | boolean, tries = 50): Promise<void> {
  for (let i = 0; i < tries && !(await check()); i++) await Bun.sleep(100)
}

/** A client that runs until killed (ssh -N with forwards), killed after `fn`. */
export async function whileRunning<T>(argv: string[], fn: () => Promise<T>): Promise<T> {
  const p = Bun.spawn(argv, { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' })
  try {
    return await fn()
  } finally {
    p.kill()
  }
}

/** Uploads 300 kB with `put`, downloads it with `get`: exit statuses and whether it came back. */
export function roundTrip(
  t: Target,
  put: (src: string, dst: string) => Promise<Result>,
  get: (src: string, dst: string) => Promise<Result>,
): Promise<string> {
  return inScratch(async (dir) => {
    const src = join(dir, 'up.bin')
    writeFileSync(
      src,
      Buffer.alloc(300_000).map((_, i) => (i * 7919) % 251),
    )
    const remote = `/tmp/bsc-rt-${t.name}.bin`
    const up = (await put(src, remote)).code
    const back = join(dir, 'down.bin')
    const down = (await get(remote, back)).code
    await inside(`rm -f ${remote}`)
    return `up=${up} down=${down} same=${existsSync(back) && sha(src) === sha(back)}`
  })
}

export function sha(path: string): string {
  const h = new Bun.CryptoHasher('sha256')
  h.update(readFileSync(path))
  return h.digest('hex').slice(0, 12)
}
