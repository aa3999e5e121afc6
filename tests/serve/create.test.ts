import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { incus, incusAvailable, testClient } from '../../src/incus/testing'
import type { Serve } from './support'
import { BURROW, prepareTargets, ssh, startServe } from './support'

// every instance these tests create; deleted before and after
const DEF = 'burrow-t-c-def'
const OPT = 'burrow-t-c-opt'
const EPH = 'burrow-t-c-eph'
const BAD = 'burrow-t-c-bad'
const OFF = 'burrow-t-c-off'
const ALL = [DEF, OPT, EPH, BAD, OFF]

let s: Serve
let plain: Serve
let dir: string

const cleanup = () => Promise.all(ALL.map((n) => incus('delete', '--force', n).catch(() => {})))

async function config(name: string): Promise<Record<string, unknown>> {
  const info = await testClient().get<{
    config: Record<string, string>
    expanded_devices: Record<string, Record<string, string>>
    ephemeral: boolean
  }>(`/1.0/instances/${name}`)
  return { ...info.config, root: info.expanded_devices.root, ephemeral: info.ephemeral }
}

describe.skipIf(!incusAvailable())('serve: instance creation (--allow-create)', () => {
  beforeAll(async () => {
    await Promise.all([prepareTargets(), cleanup()])
    dir = mkdtempSync('/tmp/burrow-create-')
    const file = join(dir, 'create-config.yaml')
    writeFileSync(
      file,
      [
        'version: "1"',
        'defaults:',
        '  image: burrow/debian',
        '  memory: 1',
        '  cpu: 1',
        '  config:',
        '    user.burrow-test: yes',
        '    security.nesting: false',
      ].join('\n'),
    )
    s = await startServe(['--allow-create', '--create-config', file])
    plain = await startServe()
  })
  afterAll(async () => {
    await Promise.all([s?.stop(), plain?.stop(), cleanup()])
    rmSync(dir, { recursive: true, force: true })
  })

  test('+name creates from create-config.yaml defaults, shows progress, then runs the command', async () => {
    const r = await ssh(s, `+${DEF}`, 'id -un; nproc')
    expect(r.stderr).toContain(`burrow: Creating container ${DEF} from burrow/debian`)
    expect(r.stderr).toContain(`burrow: Starting ${DEF}`)
    expect(r).toMatchObject({ code: 0, stdout: 'root\n1\n' })
    expect(await config(DEF)).toMatchObject({
      'limits.memory': '1GiB',
      'limits.cpu': '1',
      'user.burrow-test': 'yes',
      'security.nesting': 'false',
      ephemeral: false,
    })
    // a second login reaches the same instance without creating anything
    const again = await ssh(s, `+${DEF}`, 'echo again')
    expect(again).toEqual({ code: 0, stdout: 'again\n', stderr: '' })
  })

  test('inline options in any order override the defaults and land in the instance config', async () => {
    const r = await ssh(s, `+${OPT}+c2+nest+burrow/busybox+d3+m2+priv`, 'cat /etc/passwd')
    expect(r).toMatchObject({ code: 0, stdout: 'root:x:0:0:root:/root:/bin/sh\n' })
    const c = await config(OPT)
    expect(c).toMatchObject({
      'limits.memory': '2GiB',
      'limits.cpu': '2',
      'security.nesting': 'true',
      'security.syscalls.intercept.mknod': 'true',
      'security.privileged': 'true',
      'image.description': 'burrow test image (busybox)',
    })
    expect((c.root as Record<string, string>).size).toBe('3GiB')
  })

  test('~name is ephemeral: deleted after poweroff', async () => {
    // sysvinit's poweroff fails until init reads its control FIFO, a moment after start
    const r = await ssh(
      s,
      `~${EPH}`,
      'for i in $(seq 100); do poweroff 2>/dev/null && exit 0; sleep 0.2; done; exit 9',
    )
    expect(r.code).toBe(0)
    expect(r.stderr).toContain(`Creating ephemeral container ${EPH}`)
    expect(r.stderr).toContain('it is deleted when it stops')
    const deadline = Date.now() + 30_000
    for (;;) {
      const gone = await testClient()
        .instance(EPH, 'default')
        .then(() => false)
        .catch(() => true)
      if (gone) break
      if (Date.now() > deadline) throw new Error(`${EPH} still exists 30 s after poweroff`)
      await Bun.sleep(200)
    }
  })

  test('an unknown token is an error that names it, and nothing is created', async () => {
    const r = await ssh(s, `+${BAD}+mem4+c2`, 'true')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("unknown option 'mem4'")
    expect(
      await testClient()
        .instance(BAD, 'default')
        .catch((e) => e.code),
    ).toBe(404)
  })

  test('a missing local image is named', async () => {
    const r = await ssh(s, `+${BAD}+nope/1`, 'true')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("image 'nope/1' is not available on local (only local images")
  })

  test('without --allow-create the creation form says how to turn it on', async () => {
    const r = await ssh(plain, `+${OFF}`, 'true')
    expect(r.code).toBe(1)
    expect(r.stderr.trim()).toBe(
      `burrow: Failed to create instance ${OFF}: instance creation is off on this server (burrow serve --allow-create)`,
    )
  })

  test('a bad create-config.yaml stops serve at start with file:line', async () => {
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'defaults:\n  image: burrow/debian\n  memroy: 2\n')
    const p = Bun.spawnSync([
      BURROW,
      'serve',
      '--listen',
      '127.0.0.1:0',
      '-C',
      '--create-config',
      file,
    ])
    expect(p.exitCode).toBe(1)
    expect(p.stderr.toString().trim()).toBe(
      `burrow: Failed to load ${file}:3:3: unknown key 'memroy' in defaults (did you mean 'memory'?)`,
    )
  })
})
