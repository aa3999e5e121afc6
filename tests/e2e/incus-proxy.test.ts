// `burrow proxy incus/NAME PORT`: the real OpenSSH client into the sshd of a container that has
// no network, through an Incus proxy device; the device goes away with the proxy.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { incusAvailable } from '../../src/incus/testing'
import { burrowDevices, daemon, FWD, prepareFwd, sh } from '../serve/fwd-support'
import { batchSshOptions } from '../support/sshd'
import { BURROW, burrow, run } from './run'

let dir: string
let key: string

describe.skipIf(!incusAvailable())('burrow proxy incus/NAME', () => {
  beforeAll(async () => {
    await prepareFwd()
    dir = mkdtempSync('/tmp/bip-')
    key = join(dir, 'id')
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key])
    const pub = readFileSync(`${key}.pub`, 'utf8').trim()
    await sh(
      `mkdir -p /root/.ssh && echo '${pub}' > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys`,
    )
    await daemon('pgrep -x sshd >/dev/null || /usr/sbin/sshd')
  })
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }))

  const ssh = (proxy: string, extra: string[] = []) =>
    run([
      'ssh',
      ...batchSshOptions(key),
      '-o',
      `ProxyCommand=${proxy}`,
      ...extra,
      'root@inst',
      'test -e /etc/burrow-test-fwd && echo inside-fwd; echo $SSH_CONNECTION',
    ])

  test('--resolve prints the instance and port', async () => {
    expect(await burrow(['proxy', '--resolve', `incus%${FWD}`, '22'])).toMatchObject({
      code: 0,
      stdout: `incus/${FWD} 22\n`,
    })
    expect((await burrow(['proxy', '--resolve', 'incus/local:c1.dev', '2222'])).stdout).toBe(
      'incus/local:c1.dev 2222\n',
    )
    const bad = await burrow(['proxy', '--resolve', 'incus/no_such', '22'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toBe(
      "burrow: Failed to parse Incus address 'incus/no_such': 'no_such' is not an instance name (letters, digits and '-', starting with a letter)\n",
    )
  })

  test('ssh with ProxyCommand (pipes: relay) reaches the container sshd over its loopback', async () => {
    const r = await ssh(`${BURROW} proxy incus/${FWD} %p`)
    expect(r.stderr).toBe('')
    expect(r.stdout.split('\n')[0]).toBe('inside-fwd')
    expect(r.stdout).toContain('127.0.0.1 ')
    expect(await burrowDevices()).toEqual([])
  })

  test('with ProxyUseFdpass the proxy still relays (the device must outlive the stream)', async () => {
    const r = await ssh(`${BURROW} proxy incus%%${FWD} %p`, ['-o', 'ProxyUseFdpass=yes'])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(r.stdout.split('\n')[0]).toBe('inside-fwd')
    // the keeper removes the device once ssh has closed its end
    for (let i = 0; i < 50 && (await burrowDevices()).length; i++) await Bun.sleep(100)
    expect(await burrowDevices()).toEqual([])
  })

  test('a missing instance is one line', async () => {
    const r = await burrow(['proxy', 'incus/burrow-t-nosuch', '22'], { stdin: '' })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^burrow: Failed to .*burrow-t-nosuch.*\n$/)
  })

  test('a proxy killed with -9 leaves a device that the next proxy removes', async () => {
    const p = Bun.spawn([BURROW, 'proxy', `incus/${FWD}`, '22'], {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
    })
    for (let i = 0; i < 50 && (await burrowDevices()).length === 0; i++) await Bun.sleep(100)
    expect((await burrowDevices()).length).toBe(1)
    p.kill('SIGKILL')
    await p.exited
    const r = await ssh(`${BURROW} proxy incus/${FWD} %p`)
    expect(r.code).toBe(0)
    expect(await burrowDevices()).toEqual([])
  })
})
