// Route e2e fixtures: destination sshds that accept one shared "gateway" client key, a gateway
// sshd whose ForceCommand is the compiled `dist/burrow route`, and helpers to run real clients.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startTcpSshd, startUnixSshd, type TestSshd } from '../support/sshd'

export const ROOT = new URL('../..', import.meta.url).pathname
/** the compiled binary under test; BURROW_BIN points at another build (e.g. a private copy) */
export const BURROW = process.env.BURROW_BIN ?? join(ROOT, 'dist/burrow')

export interface Run {
  code: number
  stdout: string
  stderr: string
}

export async function run(
  cmd: string[],
  opts: { stdin?: string | Uint8Array; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Run> {
  const p = Bun.spawn(cmd, {
    stdin:
      opts.stdin === undefined
        ? 'ignore'
        : typeof opts.stdin === 'string'
          ? Buffer.from(opts.stdin)
          : opts.stdin,
    stdout: 'pipe',
    stderr: 'pipe',
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
  })
  const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000)
  const [code, stdout, stderr] = await Promise.all([
    p.exited,
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
  ])
  clearTimeout(timer)
  return { code, stdout, stderr }
}

export async function keygen(path: string): Promise<void> {
  const r = await run([
    'ssh-keygen',
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'burrow-route-gateway',
    '-f',
    path,
  ])
  if (r.code !== 0) throw new Error(`ssh-keygen: ${r.stderr}`)
}

/** ssh options for the gateway's own ssh client (route.yaml `ssh.args`). */
export function gatewaySshArgs(key: string): string[] {
  return [
    '-q',
    '-i',
    key,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
  ]
}

export interface Lab {
  dir: string
  /** the gateway's client key, accepted by every destination */
  key: string
  dests: (TestSshd & { port: number })[]
  unix?: TestSshd
  stop(): Promise<void>
}

/** `n` TCP destinations (and optionally one unix-socket one) that accept the gateway key. */
export async function startLab(n: number, opts: { unix?: boolean } = {}): Promise<Lab> {
  const dir = mkdtempSync('/tmp/br-')
  const key = join(dir, 'gw_key')
  await keygen(key)
  const pub = readFileSync(`${key}.pub`, 'utf8')
  const dests = await Promise.all(
    Array.from({ length: n }, () => startTcpSshd({ authorizedKeys: [pub] })),
  )
  const unix = opts.unix ? await startUnixSshd({ authorizedKeys: [pub] }) : undefined
  return {
    dir,
    key,
    dests,
    unix,
    async stop() {
      await Promise.all([...dests.map((d) => d.stop()), unix?.stop()])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface Gateway {
  sshd: TestSshd & { port: number; ports: number[] }
  configPath: string
  /** ssh client config for `ssh -F` to the gateway */
  clientConfig: string
  /** rewrites route.yaml (sessions read it at start) */
  setConfig(yaml: string): void
  /** argv of an ssh to the gateway on `port` (default: the first) */
  ssh(args: string[], port?: number): string[]
  ctl(args: string[]): Promise<Run>
  stop(): Promise<void>
}

export async function startGateway(
  lab: Lab,
  yaml: string,
  opts: { extraPorts?: number; name?: string } = {},
): Promise<Gateway> {
  const configPath = join(lab.dir, `${opts.name ?? 'route'}.yaml`)
  writeFileSync(configPath, yaml)
  const sshd = await startTcpSshd({
    extraPorts: opts.extraPorts,
    sshdConfig: [
      `ForceCommand ${BURROW} route --config ${configPath}`,
      'AcceptEnv LANG LC_* BURROW_* SSHPROXY_ARGS',
    ],
  })
  const clientConfig = sshd.sshConfig('')
  return {
    sshd,
    configPath,
    clientConfig,
    setConfig: (text) => writeFileSync(configPath, text),
    ssh: (args, port = sshd.port) => [
      'ssh',
      '-F',
      clientConfig,
      '-p',
      String(port),
      '127.0.0.1',
      ...args,
    ],
    ctl: (args) => run([BURROW, 'route', 'ctl', ...args, '--config', configPath]),
    stop: () => sshd.stop(),
  }
}

/** route.yaml text for a lab; `extra` is appended verbatim. */
export function routeYaml(
  lab: Lab,
  dests: string[],
  extra = '',
  statePath = join(lab.dir, 'state.db'),
): string {
  return [
    `dest: [${dests.map((d) => JSON.stringify(d)).join(', ')}]`,
    'ssh:',
    '  exe: ssh',
    `  args: [${gatewaySshArgs(lab.key)
      .map((a) => JSON.stringify(a))
      .join(', ')}]`,
    'state:',
    `  path: ${statePath}`,
    // these tests run as root, one user: the session opens the store itself (users.test.ts
    // covers the state service with ordinary users)
    '  access: direct',
    extra,
    '',
  ].join('\n')
}

/** Which destination served a command: the sshd port it reports in SSH_CONNECTION. */
export function servedBy(lab: Lab, stdout: string): number {
  const port = Number(stdout.trim().split(/\s+/).at(-1))
  const i = lab.dests.findIndex((d) => d.port === port)
  if (i < 0) throw new Error(`unexpected SSH_CONNECTION output ${JSON.stringify(stdout)}`)
  return i
}

export async function waitFor(
  what: string,
  fn: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await fn()) return
    await Bun.sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}
