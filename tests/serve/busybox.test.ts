import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { incusAvailable } from '../../src/incus/testing'
import { BB_BARE, BB_FULL, BB_LO_DOWN, ensureBusybox } from './busybox-images'
import { sha256 } from './fwd-support'
import type { Serve } from './support'
import { ssh, sshArgs, startServe } from './support'

describe.skipIf(!incusAvailable())('serve: busybox images (Alpine-like)', () => {
  let s: Serve
  let tmp: string
  beforeAll(async () => {
    await Promise.all([BB_FULL, BB_BARE, BB_LO_DOWN].map(ensureBusybox))
    s = await startServe()
    tmp = mkdtempSync('/tmp/bsc-bb-test-')
  })
  afterAll(async () => {
    await s?.stop()
    rmSync(tmp, { recursive: true, force: true })
  })

  test("a user with groups, where setpriv is busybox's: groups set through busybox su", async () => {
    const r = await ssh(s, `alice@${BB_FULL.name}`, 'id -u; id -G; echo $HOME $USER; pwd')
    expect(r).toEqual({
      code: 0,
      stdout: '1000\n1000 2000\n/home/alice alice\n/home/alice\n',
      stderr: '',
    })
    // a login shell with a terminal goes the same way
    const t = await ssh(s, `alice@${BB_FULL.name}`, undefined, {
      extra: ['-tt'],
      stdin: 'id -G; exit 7\n',
    })
    expect(t.code).toBe(7)
    expect(t.stdout).toContain('1000 2000')
  })

  test("no setpriv, no su: Incus's own uid and gid (supplementary groups are lost)", async () => {
    const r = await ssh(s, `alice@${BB_BARE.name}`, 'id -u; id -G; echo $HOME')
    expect(r).toEqual({ code: 0, stdout: '1000\n1000\n/home/alice\n', stderr: '' })
  })

  test("no sftp-server: root gets Incus's SFTP, and scp exits 0 after a correct copy (8 times)", async () => {
    const src = join(tmp, 'up.bin')
    writeFileSync(src, Buffer.alloc(200_000, 7))
    const opts = sshArgs(s, BB_FULL.name)
      .slice(1, -1)
      .filter((a) => a !== '-p' && a !== String(s.port))
    const codes: number[] = []
    for (let i = 0; i < 8; i++) {
      const up = Bun.spawnSync(['scp', '-P', String(s.port), ...opts, src, `127.0.0.1:/tmp/up${i}`])
      const down = Bun.spawnSync([
        'scp',
        '-P',
        String(s.port),
        ...opts,
        `127.0.0.1:/tmp/up${i}`,
        join(tmp, `down${i}`),
      ])
      codes.push(up.exitCode, down.exitCode)
      expect(await sha256(join(tmp, `down${i}`))).toBe(await sha256(src))
    }
    expect(codes).toEqual(Array(16).fill(0))
  })

  test('no sftp-server: another user gets one clear line, not a hang', async () => {
    const p = Bun.spawnSync([...sshArgs(s, `alice@${BB_FULL.name}`, ['-s']), 'sftp'], {
      stdin: new Blob(['']),
    })
    expect(p.exitCode).toBe(127)
    expect(p.stderr.toString()).toContain(
      'burrow: Failed to start SFTP: no sftp-server in this instance',
    )
  })

  test('loopback down: sessions work; -W to 127.0.0.1 is refused as sshd would word it', async () => {
    expect(
      await ssh(s, BB_LO_DOWN.name, 'ip -o link show lo | grep -c "state DOWN\\|<LOOPBACK>"'),
    ).toEqual({ code: 0, stdout: '1\n', stderr: '' })
    const r = await ssh(s, BB_LO_DOWN.name, undefined, {
      extra: ['-o', 'LogLevel=INFO', '-W', '127.0.0.1:22'],
    })
    expect(r.code).toBe(255)
    expect(r.stderr).toContain('open failed: connect failed: Network is unreachable')
  })
})
