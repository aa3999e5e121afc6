// vsock-mux (Firecracker / cloud-hypervisor hybrid vsock) against a faithful peer in its own
// process, bridged to a real unix-socket sshd, so whole ssh sessions run through the handshake.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { LATE_MS, type MuxBehaviour, spawnMuxPeer } from '../support/mux-peer'
import { startUnixSshd, type TestSshd } from '../support/sshd'
import { mkdtempSync, rmSync } from './fs'
import { BURROW, burrow, installFragment, run } from './run'

let dir: string
let sshd: TestSshd
let fragment: string
const peers: { stop(): Promise<void> }[] = []

beforeAll(async () => {
  dir = mkdtempSync('/tmp/bm-')
  sshd = await startUnixSshd()
  fragment = await installFragment(join(dir, 'root'))
})
afterAll(async () => {
  await Promise.all(peers.map((p) => p.stop()))
  await sshd?.stop()
  rmSync(dir, { recursive: true, force: true })
})

let count = 0
async function peer(behaviour: MuxBehaviour): Promise<string> {
  const p = await spawnMuxPeer({
    path: join(dir, `${behaviour}-${count++}.V.sock`),
    ports: { 22: sshd.socketPath },
    behaviour,
  })
  peers.push(p)
  return p.path
}

describe('ssh through vsock-mux', () => {
  test.each([
    ['ok', 'yes'],
    ['ok', 'no'],
    ['coalesce', 'yes'],
    ['coalesce', 'no'],
    ['split', 'yes'],
    ['split', 'no'],
    // no OK line before the sshd's banner (39 bytes on Debian 12: longer than any OK line)
    ['banner', 'yes'],
    ['banner', 'no'],
    // a foreign line before the banner: passed on, and ssh skips it (RFC 4253 §4.2)
    ['foreign', 'yes'],
    ['foreign', 'no'],
  ] as const)(
    'a %s peer carries a whole session (ProxyUseFdpass %s)',
    async (behaviour, fdpass) => {
      const path = await peer(behaviour)
      const cfg = sshd.sshConfig(`Include ${fragment}`)
      const r = await run([
        'ssh',
        '-F',
        cfg,
        '-o',
        `ProxyUseFdpass=${fdpass}`,
        `vsock-mux%${path}`,
        'echo',
        'through-mux',
      ])
      expect(r.stderr).toBe('')
      expect(r.stdout).toBe('through-mux\n')
    },
  )

  // the first bytes burrow relays, from a peer through --pump (socat keeps stdin open a while)
  const firstBytes = (path: string, n: number, extra = '') =>
    run([
      'sh',
      '-c',
      `sleep ${extra ? 12 : 1} | socat -t 1 - EXEC:"${BURROW} proxy --pump ${extra} vsock-mux%${path} 22" | head -c ${n}`,
    ])

  test('the OK line is consumed exactly: the SSH banner right behind it reaches ssh intact', async () => {
    const r = await firstBytes(await peer('coalesce'), 8)
    expect(r.stdout).toBe('SSH-2.0-')
  })

  test('without an OK line every byte stays in the stream: a foreign line, then the banner', async () => {
    expect((await firstBytes(await peer('foreign'), 14)).stdout).toBe('HELLO\nSSH-2.0-')
    expect((await firstBytes(await peer('banner'), 8)).stdout).toBe('SSH-2.0-')
  })

  test(`an OK line after ${LATE_MS / 1000} s: ssh gets through by default (as with systemd), and -w 10 waits for it`, async () => {
    const cfg = sshd.sshConfig(`Include ${fragment}`)
    const [late1, late2] = [await peer('late'), await peer('late')]
    const [session, waited] = await Promise.all([
      run(['ssh', '-F', cfg, `vsock-mux%${late1}`, 'echo', 'late-ok']),
      firstBytes(late2, 8, '-w 10'),
    ])
    expect(session.stderr).toBe('')
    expect(session.stdout).toBe('late-ok\n')
    // after 5 s burrow hands the stream over untouched, the OK line reaches ssh as a pre-banner line
    expect(session.ms).toBeGreaterThan(LATE_MS)
    expect(waited.stdout).toBe('SSH-2.0-')
  }, 30_000)
})

describe('vsock-mux failures', () => {
  test('a mux that closes without OK: port not open', async () => {
    const path = await peer('close')
    const r = await burrow(['proxy', `vsock-mux%${path}`, '22'])
    expect(r).toMatchObject({
      code: 1,
      stdout: '',
      stderr: `burrow: Failed to connect to vsock port 22 via ${path}: port not open\n`,
    })
  })

  test('a port nobody listens on in the guest: port not open', async () => {
    const path = await peer('ok')
    const r = await burrow(['proxy', `vsock-mux%${path}`, '2222'])
    expect(r.stderr).toBe(
      `burrow: Failed to connect to vsock port 2222 via ${path}: port not open\n`,
    )
    expect(r.code).toBe(1)
  })

  test('a foreign reply is passed on, not refused', async () => {
    const path = await peer('garbage')
    const r = await burrow(['proxy', `vsock-mux%${path}`, '22'], { stdin: '' })
    expect(r).toMatchObject({ code: 0, stdout: 'HELLO WORLD\n', stderr: '' })
  })

  test('a mux that never answers: after -w 1 the stream is passed on as it is, and -w ends the idle relay', async () => {
    const path = await peer('slow')
    const r = await burrow(['proxy', '--debug', '-w', '1', `vsock-mux%${path}`, '22'])
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain(
      `vsock-mux ${path}: no reply in time; passing the stream on untouched`,
    )
    expect(r.code).toBe(0)
    expect(r.ms).toBeLessThan(4000)
  })

  test('a path that is no socket', async () => {
    const r = await burrow(['proxy', `vsock-mux%${dir}/none`, '22'])
    expect(r.stderr).toBe(
      `burrow: Failed to connect to unix socket ${dir}/none: No such file or directory (is anything listening there?)\n`,
    )
  })
})
