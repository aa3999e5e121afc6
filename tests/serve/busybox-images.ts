/**
 * Busybox-based test images built the way small images are (Alpine-like: one busybox, applet
 * symlinks, users written straight into /etc/passwd and /etc/group). Built from the host's
 * busybox-static in a second, imported once per content (the alias carries a content hash).
 * Names carry the `bsc-` prefix of the suite that introduced them.
 */
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { ensureContainer, incus } from '../../src/incus/testing'

export interface BusyboxVariant {
  /** container name (image alias: `<name>-<hash>`) */
  name: string
  /** applets left out */
  without: string[]
  /** bring `lo` up at boot (containers here have no NIC; nothing else does it) */
  loUp: boolean
}

export const BB_FULL: BusyboxVariant = { name: 'bsc-bb-full', without: [], loUp: true }
/** no setpriv and no su: nothing in the instance can set supplementary groups */
export const BB_BARE: BusyboxVariant = {
  name: 'bsc-bb-bare',
  without: ['setpriv', 'su'],
  loUp: true,
}
export const BB_LO_DOWN: BusyboxVariant = { name: 'bsc-bb-lodown', without: [], loUp: false }

/** alice (1000) with supplementary group dev (2000); none of the images has an sftp-server */
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n'
const GROUP = 'root:x:0:\nalice:x:1000:\ndev:x:2000:alice\n'

function inittab(v: BusyboxVariant): string {
  return [
    '::sysinit:/bin/mount -t tmpfs tmpfs /tmp',
    ...(v.loUp ? ['::sysinit:/bin/ip link set lo up'] : []),
    '',
  ].join('\n')
}

function applets(): string[] {
  const out = Bun.spawnSync(['/bin/busybox', '--list']).stdout.toString()
  return out.split('\n').filter(Boolean)
}

function alias(v: BusyboxVariant): string {
  const h = new Bun.CryptoHasher('sha256')
  h.update(JSON.stringify([v, PASSWD, GROUP, inittab(v), Bun.file('/bin/busybox').size]))
  return `${v.name}-${h.digest('hex').slice(0, 10)}`
}

async function buildImage(v: BusyboxVariant, name: string): Promise<void> {
  const work = mkdtempSync('/tmp/bsc-bb-')
  try {
    const root = join(work, 'rootfs')
    for (const d of [
      'bin',
      'sbin',
      'etc',
      'proc',
      'sys',
      'dev',
      'tmp',
      'root',
      'run',
      'home/alice',
    ])
      mkdirSync(join(root, d), { recursive: true })
    writeFileSync(join(root, 'bin/busybox'), await Bun.file('/bin/busybox').bytes())
    chmodSync(join(root, 'bin/busybox'), 0o755)
    for (const a of applets())
      if (a !== 'busybox' && !v.without.includes(a)) symlinkSync('busybox', join(root, 'bin', a))
    symlinkSync('../bin/busybox', join(root, 'sbin/init'))
    writeFileSync(join(root, 'etc/passwd'), PASSWD)
    writeFileSync(join(root, 'etc/group'), GROUP)
    writeFileSync(join(root, 'etc/inittab'), inittab(v))
    chmodSync(join(root, 'tmp'), 0o1777)
    const meta = join(work, 'meta')
    mkdirSync(meta)
    writeFileSync(
      join(meta, 'metadata.yaml'),
      `architecture: ${process.arch === 'x64' ? 'x86_64' : process.arch}\ncreation_date: ${Math.floor(Date.now() / 1000)}\nproperties:\n  description: burrow test image (${v.name})\n`,
    )
    for (const [dir, tar] of [
      [root, 'rootfs.tar.gz'],
      [meta, 'meta.tar'],
    ] as const) {
      const z = tar.endsWith('gz') ? ['-z'] : []
      const p = Bun.spawnSync([
        'tar',
        '-C',
        dir,
        '--numeric-owner',
        '--owner=0',
        '--group=0',
        ...z,
        '-cf',
        join(work, tar),
        '.',
      ])
      if (p.exitCode !== 0) throw new Error(`tar ${tar}: ${p.stderr}`)
    }
    await incus(
      'image',
      'import',
      join(work, 'meta.tar'),
      join(work, 'rootfs.tar.gz'),
      '--alias',
      name,
    )
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** The variant's container, running, from an image of the current content (rebuilt if changed). */
export async function ensureBusybox(v: BusyboxVariant): Promise<void> {
  const name = alias(v)
  const have = await incus('image', 'list', '-f', 'csv', '-c', 'l', `${v.name}-`).catch(() => '')
  const aliases = have
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  if (!aliases.includes(name)) {
    // an older build of this variant: its container is from the old image too
    for (const old of aliases) await incus('image', 'delete', old)
    await incus('delete', '--force', v.name).catch(() => '')
    await buildImage(v, name)
  }
  await ensureContainer({ name: v.name, image: name, setup: 'chown 1000:1000 /home/alice' })
}
