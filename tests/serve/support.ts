/**
 * e2e support for `burrow serve`: the compiled dist/burrow on a free loopback port, the real
 * OpenSSH client, real containers in the real incusd, throwaway host users and keys.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { ensureContainer } from '../../src/incus/testing'
import { batchSshOptions } from '../support/sshd'

export const BURROW = join(import.meta.dir, '../../dist/burrow')
export const C1 = 'burrow-t-serve'
export const STOPPED = 'burrow-t-serve-stopped'
export const PROJECT = 'burrow-test'
export const P1 = 'burrow-t-serve-p'
/**
 * host users: IN is in incus-admin (Incus gives it the admin socket, so it reaches these
 * containers in the default project), OUT in none of the allowed groups. Members of plain
 * `incus` reach only their own user-<uid> project: tests/serve/authz.test.ts.
 */
export const HOST_IN = 'burrow-t-adm'
export const HOST_OUT = 'burrow-t-out'

const C1_SETUP = [
  'groupadd -f dev',
  'id alice >/dev/null 2>&1 || useradd -m -s /bin/bash -G dev,users alice',
  "printf 'multi\\nline\\n' > /root/sample",
].join('\n')

/** The containers and host users every serve test uses; idempotent. */
export async function prepareTargets(): Promise<void> {
  for (const [name, group] of [
    [HOST_IN, 'incus-admin'],
    [HOST_OUT, ''],
  ] as const) {
    if (Bun.spawnSync(['id', name]).exitCode !== 0) {
      const args = [
        'useradd',
        '--system',
        '--no-create-home',
        '--home-dir',
        `/tmp/${name}`,
        '--shell',
        '/usr/sbin/nologin',
      ]
      const p = Bun.spawnSync([...args, ...(group ? ['-G', group] : []), name])
      if (p.exitCode !== 0) throw new Error(`useradd ${name}: ${p.stderr}`)
    }
    // useradd leaves `!` (locked: sshd without PAM refuses every method, and so does serve);
    // `*` is "no password" and keeps key logins working
    if (!readFileSync('/etc/shadow', 'utf8').includes(`\n${name}:*:`))
      Bun.spawnSync(['usermod', '-p', '*', name])
  }
  await Promise.all([
    ensureContainer({ name: C1, setup: C1_SETUP }),
    ensureContainer({ name: STOPPED, stopped: true }),
    ensureContainer({ name: P1, project: PROJECT }),
  ])
}

export interface Serve {
  port: number
  pid: number
  dir: string
  /** client private key whose .pub is in root's and HOST_IN's authorized keys file */
  key: string
  /** stderr of serve so far */
  log(): string
  stop(): Promise<void>
}

/** `burrow serve` on 127.0.0.1:0 with its own state dir and authorized_keys files. */
export async function startServe(
  args: string[] = [],
  opts: {
    keysFor?: string[]
    env?: Record<string, string>
    /** a command that runs burrow as its arguments (e.g. unshare … sh -c '…; exec "$@"' sh) */
    wrap?: string[]
  } = {},
): Promise<Serve> {
  const dir = mkdtempSync('/tmp/burrow-serve-')
  const key = join(dir, 'id')
  if (
    Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'burrow-test', '-f', key])
      .exitCode !== 0
  )
    throw new Error('ssh-keygen failed')
  for (const u of opts.keysFor ?? ['root', HOST_IN, HOST_OUT])
    writeFileSync(join(dir, `${u}.keys`), readFileSync(`${key}.pub`))
  const logPath = join(dir, 'serve.log')
  const proc = Bun.spawn(
    [
      ...(opts.wrap ?? []),
      BURROW,
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--authorized-keys',
      join(dir, '%u.keys'),
      '--debug',
      ...args,
    ],
    {
      env: { ...process.env, NO_COLOR: '1', BURROW_STATE_DIR: join(dir, 'state'), ...opts.env },
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: Bun.file(logPath),
    },
  )
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '')
  const deadline = Date.now() + 10_000
  let port = 0
  while (!port) {
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log())
    if (m) port = Number(m[1])
    else if (proc.exitCode !== null || Date.now() > deadline)
      throw new Error(`burrow serve did not start: ${log()}`)
    else await Bun.sleep(20)
  }
  return {
    port,
    pid: proc.pid,
    dir,
    key,
    log,
    async stop() {
      proc.kill('SIGTERM')
      await Promise.race([proc.exited, Bun.sleep(3000)])
      proc.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface SshResult {
  code: number
  stdout: string
  stderr: string
}

/** ssh options that keep the real client away from ~/.ssh and agents */
export function sshArgs(s: Serve, login: string, extra: string[] = [], key = s.key): string[] {
  // `extra` first: for each option ssh keeps the first value it is given
  return [
    'ssh',
    ...extra,
    '-p',
    String(s.port),
    ...batchSshOptions(key),
    '-o',
    'IdentityAgent=none',
    '-o',
    `User=${login}`,
    '127.0.0.1',
  ]
}

/** Runs the real OpenSSH client; `command` goes as one argument, exactly as typed. */
export async function ssh(
  s: Serve,
  login: string,
  command?: string,
  opts: {
    stdin?: Uint8Array | string
    extra?: string[]
    env?: Record<string, string>
    key?: string
  } = {},
): Promise<SshResult> {
  const p = Bun.spawn(
    [...sshArgs(s, login, opts.extra, opts.key), ...(command === undefined ? [] : [command])],
    {
      env: { ...process.env, ...opts.env },
      stdin: opts.stdin === undefined ? 'ignore' : new Blob([opts.stdin]),
      stdout: 'pipe',
      stderr: 'pipe',
    },
  )
  const [code, stdout, stderr] = await Promise.all([
    p.exited,
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
  ])
  return { code, stdout, stderr }
}

/** Runs a command to its end: exit status, stdout and stderr as text. */
export async function tool(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(argv, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const [code, out, err] = await Promise.all([
    p.exited,
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
  ])
  return { code, out, err }
}
