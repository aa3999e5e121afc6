// Fixtures for route as it runs on a real gateway: ordinary host users (brt-u1, brt-u2) and an
// admin (brt-adm, group brt-admins), each with their own key to the destinations in their own
// ~/.ssh; a gateway sshd whose ForceCommand runs dist/burrow route as them; the state service
// started by the test as root.

import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { startTcpSshd, type TestSshd } from '../support/sshd'
import { BURROW, keygen, run, waitFor } from './support'

export const USERS = ['brt-u1', 'brt-u2', 'brt-adm'] as const
export type User = (typeof USERS)[number]
export const ADMIN_GROUP = 'brt-admins'

const sh = (cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { stdout: 'pipe', stderr: 'pipe' })
  if (r.exitCode !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr.toString()}`)
  return r.stdout.toString()
}
const exists = (what: 'passwd' | 'group', name: string) =>
  Bun.spawnSync(['getent', what, name]).exitCode === 0

export interface Account {
  name: User
  uid: number
  home: string
}

/** Creates the users (once per machine) and gives each a fresh key to the destinations. */
export async function ensureUsers(
  labDir: string,
): Promise<Record<User, Account> & { destKeys: string }> {
  if (!exists('group', ADMIN_GROUP)) sh(['groupadd', ADMIN_GROUP])
  const out = {} as Record<User, Account>
  const pubs: string[] = []
  for (const name of USERS) {
    if (!exists('passwd', name)) sh(['useradd', '-m', '-s', '/bin/bash', name])
    if (name === 'brt-adm') sh(['usermod', '-aG', ADMIN_GROUP, name])
    // no password, but not locked ('!'): sshd without PAM refuses locked accounts even with a key
    sh(['usermod', '-p', '*', name])
    const home = sh(['getent', 'passwd', name]).split(':')[5]!
    const uid = Number(sh(['id', '-u', name]).trim())
    const ssh = join(home, '.ssh')
    mkdirSync(ssh, { recursive: true, mode: 0o700 })
    const key = join(ssh, 'id_ed25519')
    rmSync(key, { force: true })
    rmSync(`${key}.pub`, { force: true })
    await keygen(key)
    for (const p of [ssh, key, `${key}.pub`]) chownSync(p, uid, uid)
    // Debian's default ~/.bashrc; tests that need a hostile one write their own
    writeFileSync(join(home, '.bashrc'), readFileSync('/etc/skel/.bashrc'))
    chownSync(join(home, '.bashrc'), uid, uid)
    pubs.push(readFileSync(`${key}.pub`, 'utf8'))
    out[name] = { name, uid, home }
  }
  const destKeys = join(labDir, 'dest_keys')
  writeFileSync(destKeys, pubs.join(''), { mode: 0o644 })
  return { ...out, destKeys }
}

/** A world-readable lab directory (users' sessions read route.yaml from it). */
export function labDir(): string {
  const dir = mkdtempSync('/tmp/brt-lab-')
  chmodSync(dir, 0o755)
  return dir
}

/** Destination sshd that lets the brt- users in with their own keys. */
export function startDest(destKeys: string): Promise<TestSshd & { port: number }> {
  return startTcpSshd({ sshdConfig: ['Match User brt-*', `  AuthorizedKeysFile ${destKeys}`] })
}

export interface UserGateway {
  sshd: TestSshd & { port: number }
  /** ssh argv as `user` to the gateway */
  ssh(user: User, args: string[], opts?: string[]): string[]
  stop(): Promise<void>
}

/**
 * The gateway: ForceCommand as the docs give it (env -u clears the Bun variables), AcceptEnv
 * deliberately letting them through so the tests prove the ForceCommand line is what stops them.
 */
export async function startUserGateway(
  dir: string,
  configPath: string,
  name = 'gw',
): Promise<UserGateway> {
  const clientKey = join(dir, `${name}_client`)
  if (!existsSync(clientKey)) await keygen(clientKey)
  const keys = join(dir, `${name}_keys`)
  writeFileSync(keys, readFileSync(`${clientKey}.pub`), { mode: 0o644 })
  const sshd = await startTcpSshd({
    sshdConfig: [
      'AcceptEnv LANG LC_* BUN_*',
      'Match User brt-*',
      `  AuthorizedKeysFile ${keys}`,
      `  ForceCommand /usr/bin/env -u BUN_OPTIONS -u BUN_BE_BUN ${BURROW} route --config ${configPath}`,
    ],
  })
  const base = [
    '-i',
    clientKey,
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
  return {
    sshd,
    ssh: (user, args, opts = []) => [
      'ssh',
      ...base,
      ...opts,
      '-p',
      String(sshd.port),
      `${user}@127.0.0.1`,
      ...args,
    ],
    stop: () => sshd.stop(),
  }
}

/** route.yaml for the users: their own ~/.ssh key reaches the destinations. */
export function usersYaml(dests: string[], extra = ''): string {
  const args = [
    '-q',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
  ]
  return [
    `dest: [${dests.map((d) => JSON.stringify(d)).join(', ')}]`,
    `ssh: {exe: ssh, args: [${args.map((a) => JSON.stringify(a)).join(', ')}]}`,
    extra,
    '',
  ].join('\n')
}

export interface Service {
  proc: Bun.Subprocess
  socket: string
  logFile: string
  /** what the service wrote to stderr so far */
  log(): string
  stop(): Promise<void>
}

/** `burrow route state-service` as root; resolves once its socket answers. */
export async function startService(
  configPath: string,
  socket: string,
  logFile: string,
): Promise<Service> {
  // a previous service's lines must not count as this one's
  rmSync(logFile, { force: true })
  const proc = Bun.spawn(
    [BURROW, 'route', 'state-service', '--config', configPath, '--socket', socket],
    {
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: Bun.file(logFile),
      env: { ...process.env, NO_COLOR: '1' },
    },
  )
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')
  await waitFor(`the state service on ${socket}`, () => {
    if (proc.exitCode !== null)
      throw new Error(`state service exited with ${proc.exitCode}: ${log()}`)
    return log().includes('listening on')
  })
  return {
    proc,
    socket,
    logFile,
    log,
    stop: async () => {
      proc.kill('SIGTERM')
      await proc.exited
    },
  }
}

/** Runs `cmd` as `user` (runuser: the kernel's uid and groups, a clean environment). */
export const asUser = (user: User, cmd: string[], env: Record<string, string> = {}) =>
  run([
    'runuser',
    '-u',
    user,
    '--',
    '/usr/bin/env',
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...cmd,
  ])
