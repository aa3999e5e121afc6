/**
 * Host users and Incus set up the way incus-user would set them up, without ever running
 * incus-user (its first use creates bridge networks with automatic addresses, which probes
 * private subnets). For a user in the `incus` group we do by hand what lxc/incus
 * cmd/incus-user/server.go serverSetupUser does on first use:
 *   - project `user-<uid>` with the same config (features.*, restricted=true, nesting allowed,
 *     disk paths limited to the home, idmap limited to the user, networks.access its bridge);
 *   - a client certificate in /var/lib/incus/users/<uid>/client.{crt,key} (0700 dir), trusted as
 *     a restricted client certificate for that project only (`incus-user-<uid>`);
 *   - the project's default profile with a root disk on pool `default`.
 * Left out, and said so here: the `incusbr-<uid>` bridge and the eth0 NIC (no networks on this
 * machine), and `raw.idmap` (needs subuid ranges for root that this machine does not set up).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import net from 'node:net'
import { run } from '../../src/incus'
import { incus, testClient } from '../../src/incus/testing'
import type { Serve } from './support'
import { sshArgs } from './support'

export function uidOf(name: string): number {
  const p = Bun.spawnSync(['id', '-u', name])
  if (p.exitCode !== 0) throw new Error(`no user ${name}`)
  return Number(p.stdout.toString().trim())
}

/** A host user (home in /tmp, no login shell) in exactly `groups`; idempotent. */
export function ensureHostUser(name: string, groups: string[]): number {
  if (Bun.spawnSync(['id', name]).exitCode !== 0) {
    const home = `/tmp/${name}`
    const p = Bun.spawnSync([
      'useradd',
      '--no-create-home',
      '--home-dir',
      home,
      '--shell',
      '/usr/sbin/nologin',
      ...(groups.length ? ['-G', groups.join(',')] : []),
      name,
    ])
    if (p.exitCode !== 0) throw new Error(`useradd ${name}: ${p.stderr}`)
  } else {
    Bun.spawnSync(['usermod', '-G', groups.join(','), name])
  }
  // useradd leaves `!`, which sshd (and serve) read as a locked account: `*` is "no password"
  Bun.spawnSync(['usermod', '-p', '*', name])
  const home = `/tmp/${name}`
  mkdirSync(home, { recursive: true, mode: 0o755 })
  Bun.spawnSync(['chown', `${name}:`, home])
  return uidOf(name)
}

async function exists(...args: string[]): Promise<boolean> {
  return incus(...args)
    .then(() => true)
    .catch(() => false)
}

/**
 * The incus-user setup for host user `name` (see the file comment); `extra` project config on
 * top (an operator's tightening, e.g. restricted.containers.nesting=block).
 */
export async function setupIncusUser(
  name: string,
  extra: Record<string, string> = {},
): Promise<number> {
  const uid = uidOf(name)
  const gid = Number(Bun.spawnSync(['id', '-g', name]).stdout.toString().trim())
  const project = `user-${uid}`
  const config: Record<string, string> = {
    'features.images': 'true',
    'features.networks': 'false',
    'features.networks.zones': 'true',
    'features.profiles': 'true',
    'features.storage.volumes': 'true',
    'features.storage.buckets': 'true',
    restricted: 'true',
    'restricted.containers.nesting': 'allow',
    'restricted.devices.disk': 'allow',
    'restricted.devices.disk.paths': `/tmp/${name}`,
    'restricted.devices.gpu': 'allow',
    'restricted.idmap.uid': String(uid),
    'restricted.idmap.gid': String(gid),
    'restricted.networks.access': `incusbr-${uid}`,
    ...extra,
  }
  if (!(await exists('project', 'show', project))) {
    await incus(
      'project',
      'create',
      project,
      ...Object.entries(config).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    )
  } else {
    for (const [k, v] of Object.entries(config)) await incus('project', 'set', project, `${k}=${v}`)
  }
  // the project's own default profile: root disk only (no NIC, see above)
  if (!(await exists('profile', 'device', 'get', 'default', 'root', 'pool', '--project', project)))
    await incus(
      'profile',
      'device',
      'add',
      'default',
      'root',
      'disk',
      'path=/',
      'pool=default',
      '--project',
      project,
    )
  // its own copy of the test image (features.images=true: the default project's are not visible)
  // (`incus image copy` between projects needs the daemon on the network: export and import)
  if (!(await exists('image', 'info', 'burrow/debian', '--project', project))) {
    const tmp = `/tmp/bsz-image-${process.pid}`
    mkdirSync(tmp, { recursive: true })
    try {
      await incus('image', 'export', 'burrow/debian', join(tmp, 'img'))
      const files = Bun.spawnSync(['ls', tmp])
        .stdout.toString()
        .trim()
        .split('\n')
        .map((f) => join(tmp, f))
      const meta = files.find((f) => !f.endsWith('.root') && !f.endsWith('.squashfs')) ?? files[0]!
      const root = files.filter((f) => f !== meta)
      await incus(
        'image',
        'import',
        meta,
        ...root,
        '--project',
        project,
        '--alias',
        'burrow/debian',
      )
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  }
  const dir = `/var/lib/incus/users/${uid}`
  const crt = join(dir, 'client.crt')
  if (!existsSync(crt)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const p = Bun.spawnSync(
      [
        'openssl',
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:secp384r1',
        '-nodes',
        '-days',
        '3650',
        '-subj',
        `/CN=incus-user-${uid}`,
        '-keyout',
        join(dir, 'client.key'),
        '-out',
        crt,
      ],
      { stderr: 'pipe' },
    )
    if (p.exitCode !== 0) throw new Error(`openssl: ${p.stderr}`)
  }
  const fp = Bun.spawnSync(['openssl', 'x509', '-in', crt, '-noout', '-fingerprint', '-sha256'])
    .stdout.toString()
    .replace(/^.*=/, '')
    .replaceAll(':', '')
    .trim()
    .toLowerCase()
  const trusted = await incus('config', 'trust', 'list', '--format', 'csv', '-c', 'f')
  if (!trusted.includes(fp.slice(0, 12))) {
    await incus(
      'config',
      'trust',
      'add-certificate',
      crt,
      '--restricted',
      '--projects',
      project,
      '--name',
      `incus-user-${uid}`,
    )
  }
  return uid
}

/** Removes a user's incus-user files (the member who never ran `incus`). */
export function removeIncusUserFiles(uid: number): void {
  rmSync(`/var/lib/incus/users/${uid}`, { recursive: true, force: true })
}

export function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : ''
}

export async function sh(
  name: string,
  project: string,
  script: string,
  as?: { user: number; group: number },
) {
  return run(testClient(), name, project, ['/bin/sh', '-c', script], as ?? {})
}

/** a socat daemon inside an instance, started once per container boot */
export async function daemonIn(
  name: string,
  project: string,
  tag: string,
  socat: string,
): Promise<void> {
  const r = await sh(
    name,
    project,
    // only processes named socat: this very shell's command line holds the tag too
    `pgrep -a -x socat | grep -qF '${tag}' || setsid -f socat ${socat} </dev/null >/dev/null 2>&1`,
  )
  if (r.code !== 0) throw new Error(`daemon in ${name}: ${r.stderr}`)
}

/** `ssh -W DEST`: what the destination sends first (empty when the stream is refused or closed) */
export async function w(serve: Serve, login: string, dest: string, key?: string): Promise<string> {
  const p = Bun.spawn([...sshArgs(serve, login, ['-W', dest], key)], {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const reader = p.stdout.getReader()
  const first = await Promise.race([reader.read(), Bun.sleep(5000).then(() => undefined)])
  p.kill()
  await p.exited
  return first?.value ? new TextDecoder().decode(first.value) : ''
}

/** First bytes from 127.0.0.1:port, '' when the stream closes without any; null if never up. */
export async function firstBytes(port: number, ms = 4000): Promise<string | null> {
  const end = Date.now() + ms
  for (;;) {
    const got = await new Promise<string | null>((resolve) => {
      const c = net.connect(port, '127.0.0.1')
      let data = ''
      let connected = false
      c.on('connect', () => (connected = true))
      c.on('data', (d) => {
        data += d.toString()
        c.destroy()
        resolve(data)
      })
      c.on('error', () => resolve(connected ? data : null))
      c.on('close', () => resolve(connected ? data : null))
      setTimeout(() => {
        c.destroy()
        resolve(connected ? data : null)
      }, 3000)
    })
    if (got !== null || Date.now() > end) return got
    await Bun.sleep(100)
  }
}

export function backgroundSsh(serve: Serve, login: string, extra: string[]) {
  return Bun.spawn([...sshArgs(serve, login, ['-N', '-o', 'ExitOnForwardFailure=yes', ...extra])], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
}

export async function until(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return true
    await Bun.sleep(100)
  }
  return false
}

export const burrowDevices = async (name: string, project: string) =>
  (await incus('config', 'device', 'list', name, '--project', project))
    .split('\n')
    .filter((l) => l.startsWith('burrow-'))
