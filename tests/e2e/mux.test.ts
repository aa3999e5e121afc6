// vsock-mux (Firecracker / cloud-hypervisor hybrid vsock) against a faithful peer in its own
// process, bridged to a real unix-socket sshd, so whole ssh sessions run through the handshake.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { type MuxBehaviour, spawnMuxPeer } from '../support/mux-peer'
import { startUnixSshd, type TestSshd } from '../support/sshd'
import { mkdtempSync, rmSync } from './fs'
import { burrow, installFragment, run } from './run'

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

async function peer(behaviour: MuxBehaviour): Promise<string> {
  const p = await spawnMuxPeer({ path: join(dir, `${behaviour}.V.sock`), ports: { 22: sshd.socketPath }, behaviour })
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
  ] as const)('a %s peer carries a whole session (ProxyUseFdpass %s)', async (behaviour, fdpass) => {
    const path = await peer(behaviour)
    const cfg = sshd.sshConfig(`Include ${fragment}`)
    const r = await run(['ssh', '-F', cfg, '-o', `ProxyUseFdpass=${fdpass}`, `vsock-mux%${path}`, 'echo', 'through-mux'])
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('through-mux\n')
  })

  test('the OK line is consumed exactly: the SSH banner right behind it reaches ssh intact', async () => {
    const path = await peer('coalesce')
    const r = await run(['sh', '-c', `sleep 1 | socat -t 1 - EXEC:"${join(import.meta.dir, '../../dist/burrow')} proxy --pump vsock-mux%${path} 22" | head -c 8`])
    expect(r.stdout).toBe('SSH-2.0-')
  })
})

describe('vsock-mux failures', () => {
  test('a mux that closes without OK: port not open', async () => {
    const path = await peer('close')
    const r = await burrow(['proxy', `vsock-mux%${path}`, '22'])
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: `burrow: Failed to connect to vsock port 22 via ${path}: port not open\n` })
  })

  test('a port nobody listens on in the guest: port not open', async () => {
    const path = await peer('ok')
    const r = await burrow(['proxy', `vsock-mux%${path}`, '2222'])
    expect(r.stderr).toBe(`burrow: Failed to connect to vsock port 2222 via ${path}: port not open\n`)
    expect(r.code).toBe(1)
  })

  test('a garbage reply is named', async () => {
    const path = await peer('garbage')
    const r = await burrow(['proxy', `vsock-mux%${path}`, '22'])
    expect(r.stderr).toBe(
      `burrow: Failed to connect to vsock port 22 via ${path}: unexpected reply 'HELLO WORLD' (expected 'OK <port>')\n`,
    )
    expect(r.code).toBe(1)
  })

  test('a mux that never answers times out (-w)', async () => {
    const path = await peer('slow')
    const r = await burrow(['proxy', '-w', '1', `vsock-mux%${path}`, '22'])
    expect(r.stderr).toBe(
      `burrow: Failed to connect to vsock port 22 via ${path}: no reply within 1 s (is ${path} a Firecracker/cloud-hypervisor vsock socket?)\n`,
    )
    expect(r.code).toBe(1)
    expect(r.ms).toBeLessThan(3000)
  })

  test('a path that is no socket', async () => {
    const r = await burrow(['proxy', `vsock-mux%${dir}/none`, '22'])
    expect(r.stderr).toBe(`burrow: Failed to connect to unix socket ${dir}/none: No such file or directory (is anything listening there?)\n`)
  })
})
