import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { incusAvailable } from '../../src/incus/testing'
import type { Serve } from './support'
import { prepareTargets, sshArgs, startServe, tool } from './support'
import { FWD, prepareFwd, sh, sha256, TINY } from './fwd-support'

// big enough to cross many SSH windows and SFTP requests; the 1 GiB runs are in bench/serve-files.ts
const BIG = 96 << 20

/** ssh options as one -o list for scp/sftp/rsync (they take ssh's options, not its argv) */
function opts(s: Serve, login: string): string[] {
  const a = sshArgs(s, login)
  return a.slice(1, -1).filter((x) => x !== '-p' && x !== String(s.port))
}

describe.skipIf(!incusAvailable())('serve: sftp, scp, rsync, sshfs', () => {
  let s: Serve
  let dir: string
  let big: string
  let sum: string
  beforeAll(async () => {
    await prepareTargets()
    await prepareFwd()
    s = await startServe(['--max-startups', '100'])
    dir = join(s.dir, 'files')
    mkdirSync(dir)
    big = join(dir, 'big')
    await tool(['sh', '-c', `head -c ${BIG} /dev/urandom > ${big}`])
    sum = await sha256(big)
    await sh(
      'rm -rf /root/sf /home/alice/sf /home/alice/s1 /home/alice/s2 /home/alice/r1 /tmp/sshfs',
    )
  })
  afterAll(() => s?.stop())

  const batch = (root: string) =>
    [
      `mkdir ${root}`,
      `put ${big} ${root}/a`,
      `rename ${root}/a ${root}/b`,
      `chmod 640 ${root}/b`,
      `ls -l ${root}`,
      `get ${root}/b ${dir}/back`,
    ].join('\n')

  test('sftp as root: put, get, rename, mkdir, ls, chmod, byte-exact', async () => {
    writeFileSync(join(dir, 'batch'), batch('/root/sf'))
    const r = await tool([
      'sftp',
      '-P',
      String(s.port),
      ...opts(s, FWD),
      '-b',
      join(dir, 'batch'),
      '127.0.0.1',
    ])
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(r.out).toContain(`${BIG} `)
    expect(await sha256(join(dir, 'back'))).toBe(sum)
    expect((await sh('stat -c %a:%u /root/sf/b')).stdout.trim()).toBe('640:0')
    expect(s.log()).not.toContain('Incus SFTP endpoint')
  })

  test('root in an instance without sftp-server gets Incus SFTP; other users a clear refusal', async () => {
    writeFileSync(join(dir, 'batch'), batch('/tmp/sf'))
    await sh(
      "rm -rf /tmp/sf; grep -q ^bob: /etc/passwd || echo 'bob:x:1000:1000::/tmp:/bin/sh' >> /etc/passwd",
      TINY,
    )
    const r = await tool([
      'sftp',
      '-P',
      String(s.port),
      ...opts(s, TINY),
      '-b',
      join(dir, 'batch'),
      '127.0.0.1',
    ])
    expect(r).toMatchObject({ code: 0, err: '' })
    expect(await sha256(join(dir, 'back'))).toBe(sum)
    expect(s.log()).toContain('Incus SFTP endpoint')
    const bob = await tool([
      'sftp',
      '-P',
      String(s.port),
      ...opts(s, `bob@${TINY}`),
      '-b',
      join(dir, 'batch'),
      '127.0.0.1',
    ])
    expect(bob.code).not.toBe(0)
    expect(bob.err).toContain('burrow: Failed to start SFTP: no sftp-server in this instance')
  })

  test('sftp as a non-root user writes files that user owns', async () => {
    writeFileSync(join(dir, 'batch'), batch('sf'))
    const r = await tool([
      'sftp',
      '-P',
      String(s.port),
      ...opts(s, `alice@${FWD}`),
      '-b',
      join(dir, 'batch'),
      '127.0.0.1',
    ])
    expect(r.code).toBe(0)
    expect(await sha256(join(dir, 'back'))).toBe(sum)
    expect(
      (await sh('stat -c %U:%G:%a /home/alice/sf /home/alice/sf/b')).stdout.split('\n'),
    ).toEqual(['alice:alice:755', 'alice:alice:640', ''])
    // and the user's permissions apply
    const denied = await tool([
      'sftp',
      '-P',
      String(s.port),
      ...opts(s, `alice@${FWD}`),
      '127.0.0.1:/root/sf/b',
      join(dir, 'no'),
    ])
    expect(denied.code).not.toBe(0)
  })

  test('scp (SFTP mode) and scp -O both ways, byte-exact, owned by the user', async () => {
    for (const [mode, name] of [
      [[], 's1'],
      [['-O'], 's2'],
    ] as const) {
      const up = await tool([
        'scp',
        ...mode,
        '-P',
        String(s.port),
        ...opts(s, `alice@${FWD}`),
        big,
        `127.0.0.1:${name}`,
      ])
      expect(up).toMatchObject({ code: 0, err: '' })
      rmSync(join(dir, 'back'), { force: true })
      const down = await tool([
        'scp',
        ...mode,
        '-P',
        String(s.port),
        ...opts(s, `alice@${FWD}`),
        `127.0.0.1:${name}`,
        join(dir, 'back'),
      ])
      expect(down).toMatchObject({ code: 0, err: '' })
      expect(await sha256(join(dir, 'back'))).toBe(sum)
    }
    expect((await sh('stat -c %U /home/alice/s1 /home/alice/s2')).stdout).toBe('alice\nalice\n')
  })

  test('scp -O into an instance without scp says what is missing', async () => {
    const r = await tool([
      'scp',
      '-O',
      '-P',
      String(s.port),
      ...opts(s, TINY),
      big,
      '127.0.0.1:/tmp/x',
    ])
    expect(r.code).not.toBe(0)
    expect(r.err).toContain(
      `burrow: Failed to run scp in instance ${TINY}: scp is not installed there`,
    )
  })

  test('rsync', async () => {
    const e = ['ssh', '-p', String(s.port), ...opts(s, `alice@${FWD}`)].join(' ')
    const r = await tool(['rsync', '-a', '-e', e, big, '127.0.0.1:r1'])
    expect(r).toMatchObject({ code: 0, err: '' })
    expect((await sh('sha256sum /home/alice/r1; stat -c %U /home/alice/r1')).stdout).toBe(
      `${sum}  /home/alice/r1\nalice\n`,
    )
  })

  const sshfs = Bun.which('sshfs') && existsSync('/dev/fuse')
  test.skipIf(!sshfs)('sshfs mounts the instance read/write', async () => {
    const mnt = join(dir, 'mnt')
    mkdirSync(mnt)
    await sh('mkdir -p /tmp/sshfs && echo inside > /tmp/sshfs/in')
    const ssh = sshArgs(s, FWD)
      .slice(1, -1)
      .filter((x) => x !== '-p' && x !== String(s.port))
      .join(' ')
    const m = await tool([
      'sshfs',
      '-p',
      String(s.port),
      '-o',
      `ssh_command=ssh ${ssh}`,
      '127.0.0.1:/tmp/sshfs',
      mnt,
    ])
    expect(m).toMatchObject({ code: 0, err: '' })
    try {
      expect(readFileSync(join(mnt, 'in'), 'utf8')).toBe('inside\n')
      writeFileSync(join(mnt, 'out'), 'from the host\n')
    } finally {
      await tool(['fusermount', '-u', mnt])
    }
    expect((await sh('cat /tmp/sshfs/out')).stdout).toBe('from the host\n')
  })
})
