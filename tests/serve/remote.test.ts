import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { incus, incusAvailable } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, prepareTargets, ssh, startServe } from './support'

// The same incusd on 127.0.0.1:8443 with a trusted client certificate is a real HTTPS remote.
let dir: string
let oldAddress = ''
let fingerprint = ''
let s: Serve
let viaDefault: Serve
let viaDown: Serve

function certificate(name: string): void {
  const p = Bun.spawnSync(
    ['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1'].concat(
      ['-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)],
      ['-days', '2', '-subj', '/CN=burrow-test'],
    ),
  )
  if (p.exitCode !== 0) throw new Error(`openssl: ${p.stderr}`)
}

describe.skipIf(!incusAvailable())('serve: Incus remotes over HTTPS', () => {
  beforeAll(async () => {
    await prepareTargets()
    dir = mkdtempSync('/tmp/burrow-remote-')
    oldAddress = (await incus('config', 'get', 'core.https_address')).trim()
    if (oldAddress !== '127.0.0.1:8443')
      await incus('config', 'set', 'core.https_address', '127.0.0.1:8443')
    certificate('client')
    certificate('other')
    await incus(
      'config',
      'trust',
      'add-certificate',
      join(dir, 'client.crt'),
      '--name',
      `burrow-test-remote-${process.pid}`,
    )
    const der = readFileSync(join(dir, 'client.crt'), 'utf8').replace(/-----[^-]+-----|\s/g, '')
    fingerprint = new Bun.CryptoHasher('sha256').update(Buffer.from(der, 'base64')).digest('hex')
    // an incus client config directory, as `incus remote add` leaves it
    mkdirSync(join(dir, 'servercerts'))
    copyFileSync('/var/lib/incus/server.crt', join(dir, 'servercerts', 'loop.crt'))
    copyFileSync(join(dir, 'other.crt'), join(dir, 'servercerts', 'badpin.crt'))
    writeFileSync(
      join(dir, 'config.yml'),
      [
        'default-remote: local',
        'remotes:',
        '  local: { addr: "unix://", public: false }',
        '  loop: { addr: "https://127.0.0.1:8443", protocol: incus, auth_type: tls }',
        '  badpin: { addr: "https://127.0.0.1:8443", protocol: incus, auth_type: tls }',
        '  down: { addr: "https://127.0.0.1:1", protocol: incus, auth_type: tls }',
      ].join('\n'),
    )
    const env = { INCUS_CONF: dir }
    ;[s, viaDefault, viaDown] = await Promise.all([
      startServe([], { env }),
      startServe(['-r', 'loop'], { env }),
      startServe(['--remote', 'down'], { env }),
    ])
  })
  afterAll(async () => {
    await Promise.all([s?.stop(), viaDefault?.stop(), viaDown?.stop()])
    if (fingerprint) await incus('config', 'trust', 'remove', fingerprint).catch(() => {})
    // leave the daemon as it was found
    if (oldAddress !== '127.0.0.1:8443') {
      if (oldAddress) await incus('config', 'set', 'core.https_address', oldAddress)
      else await incus('config', 'unset', 'core.https_address')
    }
    rmSync(dir, { recursive: true, force: true })
  })

  test('remote: in the login reaches the instance over HTTPS with the client certificate', async () => {
    expect(await ssh(s, `loop:${C1}`, 'echo $((6*7))')).toEqual({
      code: 0,
      stdout: '42\n',
      stderr: '',
    })
  })

  test('the pinned server certificate is checked', async () => {
    const r = await ssh(s, `badpin:${C1}`, 'true')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("cannot reach Incus remote 'badpin' at https://127.0.0.1:8443")
  })

  test('an unknown remote is named', async () => {
    const r = await ssh(s, `nope:${C1}`, 'true')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      `Failed to find Incus remote 'nope': no such remote in ${dir}/config.yml`,
    )
  })

  test('-r/--remote is the default for logins without one; local: still means the default socket', async () => {
    expect(await ssh(viaDefault, C1, 'echo via-default')).toMatchObject({
      code: 0,
      stdout: 'via-default\n',
    })
    const r = await ssh(viaDown, C1, 'true')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("cannot reach Incus remote 'down' at https://127.0.0.1:1")
    expect(await ssh(viaDown, `local:${C1}`, 'echo local')).toMatchObject({
      code: 0,
      stdout: 'local\n',
    })
  })
})
