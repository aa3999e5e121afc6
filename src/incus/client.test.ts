import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { defaultEndpoint, remoteEndpoint } from './endpoint'
import { IncusClient, IncusError } from './client'
import { run } from './exec'
import { ensureContainer, incus, incusAvailable, testClient } from './testing'

const C = 'burrow-t-client'
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure')
    },
    (e) => e as IncusError,
  )
const live = incusAvailable()

describe('endpoints', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync('/tmp/burrow-incus-conf-')
    mkdirSync(join(dir, 'servercerts'))
    writeFileSync(join(dir, 'client.crt'), 'CERT')
    writeFileSync(join(dir, 'client.key'), 'KEY')
    writeFileSync(join(dir, 'servercerts', 'far.crt'), 'SERVER')
    writeFileSync(
      join(dir, 'config.yml'),
      [
        'default-remote: local',
        'remotes:',
        '  images: { addr: "https://images.example", protocol: simplestreams, public: true }',
        '  local: { addr: "unix://", protocol: incus }',
        '  other: { addr: "unix:///run/other.socket", protocol: incus }',
        '  far: { addr: "https://10.0.0.2:8443/", protocol: incus, auth_type: tls }',
        '  nocert: { addr: "https://10.0.0.3:8443", protocol: incus }',
      ].join('\n'),
    )
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('the default is the socket flag, then INCUS_SOCKET, then the package path', () => {
    expect(defaultEndpoint({ socket: '/x.sock' })).toEqual({
      kind: 'unix',
      name: 'local',
      socket: '/x.sock',
    })
    const saved = process.env.INCUS_SOCKET
    process.env.INCUS_SOCKET = '/env.sock'
    try {
      expect(defaultEndpoint({})).toMatchObject({ socket: '/env.sock' })
    } finally {
      if (saved === undefined) delete process.env.INCUS_SOCKET
      else process.env.INCUS_SOCKET = saved
    }
  })

  test('remotes come from the incus client config', () => {
    expect(remoteEndpoint('local', { configDir: dir, socket: '/s' })).toMatchObject({
      kind: 'unix',
      socket: '/s',
    })
    expect(remoteEndpoint('other', { configDir: dir })).toMatchObject({
      kind: 'unix',
      socket: '/run/other.socket',
    })
    expect(remoteEndpoint('far', { configDir: dir })).toEqual({
      kind: 'https',
      name: 'far',
      url: 'https://10.0.0.2:8443',
      cert: 'CERT',
      key: 'KEY',
      serverCert: 'SERVER',
    })
    expect(remoteEndpoint('nocert', { configDir: dir })).toMatchObject({ serverCert: undefined })
  })

  test.each([
    ['nope', "Failed to find Incus remote 'nope': no such remote"],
    ['images', "protocol 'simplestreams' is not an Incus API"],
    ['__proto__', 'no such remote'],
  ])('remote %p is refused', (name, msg) => {
    expect(() => remoteEndpoint(name, { configDir: dir })).toThrow(msg)
  })
})

describe.skipIf(!live)('client against the real incusd', () => {
  beforeAll(() => ensureContainer({ name: C }))

  test('GET /1.0 answers with the server environment', async () => {
    const info = await testClient().get<{ environment: { server_version: string } }>('/1.0')
    expect(info.environment.server_version).toMatch(/^6\./)
  })

  test('a missing instance is a 404 IncusError', async () => {
    const err = await failure(testClient().instance('burrow-t-none', 'default'))
    expect(err).toBeInstanceOf(IncusError)
    expect(err.code).toBe(404)
    expect(err.message).toBe(
      'Failed to find instance burrow-t-none: Failed to fetch instance "burrow-t-none" in project "default": Instance not found',
    )
  })

  test('an unreachable socket names the socket and what to check', async () => {
    const err = await failure(
      new IncusClient(defaultEndpoint({ socket: '/nonexistent/incus.sock' })).get('/1.0'),
    )
    expect(err.message).toContain('cannot reach incusd on /nonexistent/incus.sock')
    expect(err.message).toContain('is incusd running')
  })

  test('files are read through the file API', async () => {
    const f = await testClient().readFile(C, 'default', '/etc/passwd')
    expect(new TextDecoder().decode(f.content)).toStartWith('root:x:0:0:')
    expect(f).toMatchObject({ uid: 0, gid: 0, mode: 0o644, type: 'file' })
    const err = await failure(testClient().readFile(C, 'default', '/nonexistent'))
    expect(err.code).toBe(404)
  })

  test('a stopped instance is started', async () => {
    const c = testClient()
    await incus('stop', '--force', C)
    expect((await c.instance(C, 'default')).status).toBe('Stopped')
    await c.start(C, 'default')
    expect((await c.instance(C, 'default')).status).toBe('Running')
  })
})

describe.skipIf(!live)('HTTPS remote with a pinned server certificate (loopback)', () => {
  let dir: string
  let fingerprint = ''
  beforeAll(async () => {
    await ensureContainer({ name: C })
    dir = mkdtempSync('/tmp/burrow-incus-tls-')
    const addr = (await incus('config', 'get', 'core.https_address')).trim()
    if (addr !== '127.0.0.1:8443')
      await incus('config', 'set', 'core.https_address', '127.0.0.1:8443')
    const p = Bun.spawnSync([
      'openssl',
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:secp384r1',
      '-nodes',
      '-keyout',
      join(dir, 'client.key'),
      '-out',
      join(dir, 'client.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=burrow-test',
    ])
    expect(p.exitCode).toBe(0)
    await incus(
      'config',
      'trust',
      'add-certificate',
      join(dir, 'client.crt'),
      '--name',
      `burrow-test-${process.pid}`,
    )
    fingerprint = new Bun.CryptoHasher('sha256')
      .update(
        Buffer.from(
          readFileSync(join(dir, 'client.crt'), 'utf8').replace(/-----[^-]+-----|\s/g, ''),
          'base64',
        ),
      )
      .digest('hex')
  })
  afterAll(async () => {
    if (fingerprint) await incus('config', 'trust', 'remove', fingerprint).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  const endpoint = (
    url: string,
    serverCert = readFileSync('/var/lib/incus/server.crt', 'utf8'),
  ) => ({
    kind: 'https' as const,
    name: 'loop',
    url,
    cert: readFileSync(join(dir, 'client.crt'), 'utf8'),
    key: readFileSync(join(dir, 'client.key'), 'utf8'),
    serverCert,
  })

  test('requests and exec websockets work over TLS', async () => {
    const c = new IncusClient(endpoint('https://127.0.0.1:8443'))
    expect((await c.get<{ auth: string }>('/1.0')).auth).toBe('trusted')
    expect(await run(c, C, 'default', ['sh', '-c', 'echo over-tls; exit 5'])).toEqual({
      code: 5,
      stdout: 'over-tls\n',
      stderr: '',
    })
  })

  test('the pin, not the host name, decides', async () => {
    // the certificate names vm, 127.0.0.1 and ::1, not localhost
    const c = new IncusClient(endpoint('https://localhost:8443'))
    expect((await c.get<{ auth: string }>('/1.0')).auth).toBe('trusted')
  })

  test('another certificate is refused', async () => {
    const c = new IncusClient(
      endpoint('https://127.0.0.1:8443', readFileSync(join(dir, 'client.crt'), 'utf8')),
    )
    const err = await failure(c.get('/1.0'))
    expect(err.message).toContain("cannot reach Incus remote 'loop' at https://127.0.0.1:8443")
  })
})
