// route as it runs on a gateway: ordinary host users log in through the real sshd, whose
// ForceCommand runs dist/burrow route as them; the state service (started here, as root) owns
// the default store /var/lib/burrow/route.db. Each test is one thing a user must not be able to
// do, tried as that user.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import {
  existsSync,
  readdirSync,
  rmdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { commOf, descendantPids } from '../support/sshd'
import { BURROW, run, waitFor } from './support'
import {
  ADMIN_GROUP,
  asUser,
  ensureUsers,
  labDir,
  type Service,
  startDest,
  startService,
  startUserGateway,
  type User,
  type UserGateway,
  usersYaml,
} from './users'

const STORE = '/var/lib/burrow/route.db'
const SOCKET = '/run/burrow-route/state.sock'
let dir: string
let dests: Awaited<ReturnType<typeof startDest>>[]
let gw: UserGateway
let service: Service
let config: string
const ids = () => dests.map((d) => `127.0.0.1:${d.port}`)
const where = 'echo $(id -un) $SSH_CONNECTION'
/** which destination served, and as whom */
const served = (stdout: string) => {
  const words = stdout.trim().split(/\s+/)
  return { user: words[0], dest: dests.findIndex((d) => d.port === Number(words.at(-1))) }
}
const ctl = (user: User | 'root', args: string[], env: Record<string, string> = {}) =>
  user === 'root'
    ? run([BURROW, 'route', 'ctl', ...args, '--config', config])
    : asUser(user, [BURROW, 'route', 'ctl', ...args, '--config', config], env)
const connections = async () =>
  JSON.parse((await ctl('root', ['show', 'connections', '--all', '--json'])).stdout) as {
    user: string
    destination: string
    session: string
  }[]

const yaml = (extra = '') =>
  usersYaml(
    ids(),
    [
      `log: ${join(dir, 'audit.log')}`,
      `state: {admin_group: ${ADMIN_GROUP}}`,
      'overrides:',
      '  - match: [{users: [brt-u2]}]',
      `    dest: ["${ids()[1]}", "${ids()[2]}"]`,
      '    max_connections_per_user: 1',
      extra,
    ].join('\n'),
  )

beforeAll(async () => {
  dir = labDir()
  const users = await ensureUsers(dir)
  dests = await Promise.all([0, 1, 2].map(() => startDest(users.destKeys)))
  config = join(dir, 'route.yaml')
  writeFileSync(config, yaml(), { mode: 0o644 })
  // the defaults: no state.path, no state.socket in route.yaml
  for (const f of existsSync('/var/lib/burrow') ? readdirSync('/var/lib/burrow') : [])
    if (f.startsWith('route.db')) rmSync(join('/var/lib/burrow', f), { force: true })
  service = await startService(config, SOCKET, join(dir, 'service.log'))
  gw = await startUserGateway(dir, config)
})

afterAll(async () => {
  await gw?.stop()
  await service?.stop()
  await Promise.all((dests ?? []).map((d) => d.stop()))
  // the default paths, used here on purpose: remove only route's files (serve keeps its host
  // keys in /var/lib/burrow too)
  for (const f of readdirSync('/var/lib/burrow'))
    if (f.startsWith('route.db')) rmSync(join('/var/lib/burrow', f), { force: true })
  rmSync('/run/burrow-route', { recursive: true, force: true })
  try {
    rmdirSync('/var/lib/burrow') // only when empty
  } catch {}
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('ordinary users on one gateway, with the state service', () => {
  test('each user is routed with the default state, as themselves, and audited by uid', async () => {
    const u1 = await run(gw.ssh('brt-u1', [where]))
    expect(u1).toMatchObject({ code: 0, stderr: '' })
    expect(served(u1.stdout)).toEqual({ user: 'brt-u1', dest: 0 })
    const u2 = await run(gw.ssh('brt-u2', [`${where}; exit 6`]))
    expect(u2.code).toBe(6)
    expect(served(u2.stdout)).toEqual({ user: 'brt-u2', dest: 1 })
    expect(statSync(STORE).mode & 0o777).toBe(0o600)
    expect(statSync(STORE).uid).toBe(0)
    const audit = readFileSync(join(dir, 'audit.log'), 'utf8')
    expect(audit).toMatch(
      new RegExp(
        `uid=\\d+ user=brt-u2 [0-9A-F]{10} brt-u2 from "127\\.0\\.0\\.1:\\d+" via .* → ${ids()[1]} exit 6 after`,
      ),
    )
    expect(statSync(join(dir, 'audit.log')).uid).toBe(0)
  })

  test('identity comes from the uid: a ~/.bashrc exporting USER=brt-u2 changes nothing', async () => {
    const home = (await asUser('brt-u1', ['sh', '-c', 'echo ~'])).stdout.trim()
    const rc = join(home, '.bashrc')
    const original = readFileSync(rc)
    // and the source comes from the kernel: a made-up SSH_CONNECTION does not reach the audit log
    // (only on the gateway, where a ForceCommand sets SSH_ORIGINAL_COMMAND: the destinations'
    // sshd on this machine reads the same ~/.bashrc)
    const fake = '[ -n "$SSH_ORIGINAL_COMMAND" ] && export SSH_CONNECTION="9.9.9.9 4242 9.9.9.9 22"'
    writeFileSync(
      rc,
      `export USER=brt-u2 LOGNAME=brt-u2\n${fake}\necho hostile-rc-ran >> ${home}/rc.log\n${original}`,
    )
    try {
      const r = await run(gw.ssh('brt-u1', [where]))
      expect(r.code).toBe(0)
      expect(readFileSync(join(home, 'rc.log'), 'utf8')).toContain('hostile-rc-ran')
      // brt-u2's override would send it to destination 1 and cap it at one connection
      expect(served(r.stdout)).toEqual({ user: 'brt-u1', dest: 0 })
      const audit = readFileSync(join(dir, 'audit.log'), 'utf8')
      expect(audit).not.toMatch(/user=brt-u1 \S+ brt-u2/)
      expect(audit).not.toContain('9.9.9.9')
      expect(audit).toMatch(
        /user=brt-u1 [0-9A-F]{10} brt-u1 from "127\.0\.0\.1:\d+" via "127\.0\.0\.1:\d+"/,
      )
      const shown = await ctl('brt-u1', ['show', 'config'], { USER: 'brt-u2', LOGNAME: 'brt-u2' })
      expect(shown.stdout).toStartWith('# effective config for user brt-u1\n')
    } finally {
      writeFileSync(rc, original)
      rmSync(join(home, 'rc.log'), { force: true })
    }
  })

  test('a user cannot disable hosts, set the banner, forget others’ sticky entries; an admin can', async () => {
    const refused = [
      [
        ['disable', ids()[0]!],
        `burrow: Failed to disable ${ids()[0]}: only root and members of group ${ADMIN_GROUP} may change the routing state; you are brt-u1\n`,
      ],
      [
        ['disable', '--all'],
        `burrow: Failed to disable ${ids()[0]}: only root and members of group ${ADMIN_GROUP} may change the routing state; you are brt-u1\n`,
      ],
      [
        ['enable', ids()[0]!],
        `burrow: Failed to enable ${ids()[0]}: only root and members of group ${ADMIN_GROUP} may change the routing state; you are brt-u1\n`,
      ],
      [
        ['banner', 'gone fishing'],
        `burrow: Failed to set the banner: only root and members of group ${ADMIN_GROUP} may change the routing state; you are brt-u1\n`,
      ],
      [
        ['banner', '--clear'],
        `burrow: Failed to clear the banner: only root and members of group ${ADMIN_GROUP} may change the routing state; you are brt-u1\n`,
      ],
      [
        ['forget', 'host', ids()[0]!],
        `burrow: Failed to forget host ${ids()[0]}: only root and members of group ${ADMIN_GROUP} may change the routing state; you are brt-u1\n`,
      ],
      [
        ['forget', 'sticky', '--user', 'brt-u2'],
        'burrow: Failed to forget sticky entries of brt-u2: only root and the admin group may; you are brt-u1\n',
      ],
    ] as const
    for (const [args, stderr] of refused) {
      // USER=root in the environment is no help either
      expect(await ctl('brt-u1', [...args], { USER: 'root', LOGNAME: 'root' })).toEqual({
        code: 1,
        stdout: '',
        stderr,
      })
    }
    expect((await ctl('brt-u1', ['forget', 'sticky'])).code).toBe(0)
    expect(await ctl('brt-adm', ['disable', ids()[0]!])).toMatchObject({
      code: 0,
      stdout: `${ids()[0]} disabled\n`,
    })
    try {
      expect(served((await run(gw.ssh('brt-u1', [where]))).stdout).dest).toBe(1)
      expect((await ctl('brt-adm', ['banner', 'maintenance'])).code).toBe(0)
      expect((await ctl('brt-u1', ['show', 'banner'])).stdout).toContain('maintenance')
    } finally {
      expect((await ctl('brt-adm', ['enable', '--all'])).code).toBe(0)
      expect((await ctl('brt-adm', ['banner', '--clear'])).code).toBe(0)
    }
  })

  test('a user cannot open the store, nor register a connection in another’s name', async () => {
    for (const cmd of [
      `cat ${STORE}`,
      `echo x >> ${STORE}`,
      `chmod 666 ${STORE}`,
      `rm -f ${STORE}`,
      `: > ${STORE}-wal`,
    ]) {
      const r = await asUser('brt-u1', ['sh', '-c', cmd])
      expect(r.code).not.toBe(0)
      expect(r.stderr).toMatch(/Permission denied|Operation not permitted/)
    }
    // speaking the protocol by hand: the service takes the user from SO_PEERCRED
    const script = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(${JSON.stringify(SOCKET)}); f = s.makefile('rw')
def call(i, op, a):
    f.write(json.dumps({"id": i, "op": op, "a": a}) + "\\n"); f.flush(); return json.loads(f.readline())
call(1, "hello", {})
print(json.dumps(call(2, "register", {"c": {"id": "ABCDEF0123", "user": "brt-u2", "service": "default", "dest": ${JSON.stringify(ids()[1])}, "from": "1.2.3.4:5", "sshd": "x:22"}})))
print(json.dumps(call(3, "connections", {"user": "brt-u2"})))
print(json.dumps(call(4, "setDisabled", {"id": ${JSON.stringify(ids()[1])}, "disabled": True})))
print(json.dumps(call(5, "remember", {"service": "made-up", "dest": ${JSON.stringify(ids()[1])}, "ttl": 60000})))
f.write("x" * 70000 + "\\n"); f.flush(); print(f.readline().strip())
`
    const r = await asUser('brt-u1', ['/usr/bin/python3', '-c', script])
    const [reg, conns, disable, remember, long] = r.stdout.trim().split('\n')
    expect(JSON.parse(reg!)).toEqual({ id: 2, r: null })
    expect(JSON.parse(conns!)).toEqual({ id: 3, r: [] })
    expect(JSON.parse(disable!).e).toContain(
      'only root and members of group brt-admins may change the routing state; you are brt-u1',
    )
    expect(JSON.parse(remember!).e).toBe(
      "Failed to use service 'made-up': it is not a service of the state service’s route.yaml",
    )
    expect(JSON.parse(long!).e).toBe(
      'Failed to read the request: a message is longer than 65536 bytes',
    )
    // the fake row was brt-u1's and went with its socket
    expect((await connections()).filter((c) => c.session === 'ABCDEF0123')).toEqual([])
    // not under sshd: its own word about the source, marked as such (policy rule "source")
    expect(readFileSync(join(dir, 'audit.log'), 'utf8')).toMatch(
      /user=brt-u1 ABCDEF0123 brt-u1 from "1\.2\.3\.4:5 \(claimed\)"/,
    )
  })

  test('a session killed with SIGKILL stops counting at once', async () => {
    const held = Bun.spawn(gw.ssh('brt-u2', ['sleep 60']), {
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'ignore',
    })
    try {
      await waitFor('the session to register', async () =>
        (await connections()).some((c) => c.user === 'brt-u2'),
      )
      const capped = await run(gw.ssh('brt-u2', ['true']))
      expect(capped.stderr).toContain(
        'too many simultaneous connections (1 open, at most 1 allowed)',
      )
      // the session itself (not its short-lived `route connect` ProxyCommand)
      const session = descendantPids(gw.sshd.pid).find(
        (p) =>
          commOf(p) === 'burrow' && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('--config'),
      )!
      expect(session).toBeGreaterThan(0)
      process.kill(session, 'SIGKILL')
      await waitFor(
        'the killed session to stop counting',
        async () => !(await connections()).some((c) => c.user === 'brt-u2'),
        3000,
      )
      expect((await run(gw.ssh('brt-u2', ['true']))).code).toBe(0)
    } finally {
      held.kill('SIGKILL')
      await held.exited
    }
  })

  test('a restart of the state service: live sessions register again (the per-user limit holds), one start and one end line', async () => {
    const held = Bun.spawn(gw.ssh('brt-u2', ['sleep 6; exit 3']), {
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'ignore',
    })
    try {
      await waitFor('the session to register', async () =>
        (await connections()).some((c) => c.user === 'brt-u2'),
      )
      const sid = (await connections()).find((c) => c.user === 'brt-u2')!.session
      await service.stop()
      service = await startService(config, SOCKET, join(dir, 'service.log'))
      await waitFor(
        'the session to register again',
        async () => (await connections()).some((c) => c.session === sid),
        5000,
      )
      expect(service.log()).toContain(`session ${sid} of brt-u2 registered again`)
      const capped = await run(gw.ssh('brt-u2', ['true']))
      expect(capped.stderr).toContain(
        'too many simultaneous connections (1 open, at most 1 allowed)',
      )
      expect(await held.exited).toBe(3)
      await waitFor(
        'the session to stop counting',
        async () => !(await connections()).some((c) => c.session === sid),
        3000,
      )
      const lines = readFileSync(join(dir, 'audit.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes(` ${sid} `))
      expect(lines.filter((l) => l.includes(' command=')).length).toBe(1)
      expect(lines.filter((l) => / exit \d+ after | ended without /.test(l))).toEqual([
        expect.stringContaining(' exit 3 after '),
      ])
    } finally {
      held.kill('SIGKILL')
      await held.exited
    }
  }, 30_000)

  test('the Bun runtime variables: the ForceCommand line clears them, the binary refuses BUN_OPTIONS', async () => {
    const env = { BUN_BE_BUN: '1', BUN_OPTIONS: `--preload ${join(dir, 'nope.js')}` }
    const sent = await run(gw.ssh('brt-u1', [where], ['-o', 'SendEnv=BUN_BE_BUN BUN_OPTIONS']), {
      env,
    })
    expect(sent).toMatchObject({ code: 0, stderr: '' })
    expect(served(sent.stdout).user).toBe('brt-u1')
    const direct = await run([BURROW, 'route', '--config', config], {
      env: { SSH_CONNECTION: '127.0.0.1 1 127.0.0.1 22', BUN_OPTIONS: '--smol' },
    })
    expect(direct).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'burrow: Failed to start route: BUN_OPTIONS is set; they change what the binary runs, so sshd must not pass them (remove them from AcceptEnv, see docs/route.md)\n',
    })
    // the session starts in the user's home: a bunfig.toml preload there is not loaded either
    const home = (await asUser('brt-u1', ['sh', '-c', 'echo ~'])).stdout.trim()
    writeFileSync(join(home, 'bunfig.toml'), `preload = ["${home}/pre.js"]\n`)
    writeFileSync(join(home, 'pre.js'), `require('fs').writeFileSync('${home}/preloaded', 'x')\n`)
    try {
      expect(served((await run(gw.ssh('brt-u1', [where]))).stdout).user).toBe('brt-u1')
      expect(existsSync(join(home, 'preloaded'))).toBe(false)
    } finally {
      for (const f of ['bunfig.toml', 'pre.js', 'preloaded']) rmSync(join(home, f), { force: true })
    }
    // why the ForceCommand line matters: with BUN_BE_BUN the binary is Bun, not burrow
    expect((await run([BURROW, '--version'], { env: { BUN_BE_BUN: '1' } })).stdout).not.toBe(
      '0.1.0\n',
    )
  })

  test('without the service route fails closed in one line; state.access: none routes without it', async () => {
    await service.stop()
    try {
      const r = await run(gw.ssh('brt-u1', [where]))
      expect(r).toEqual({
        code: 1,
        stdout: '',
        stderr: `burrow: Failed to reach the route state service at ${SOCKET}: nothing listens there; start it with \`systemctl start burrow-route-state\` (or run \`burrow route state-service\` as root), or set state.access: none in route.yaml to route without shared state\n`,
      })
      writeFileSync(
        config,
        yaml().replace(`state: {admin_group: ${ADMIN_GROUP}}`, 'state: {access: none}'),
      )
      expect(served((await run(gw.ssh('brt-u1', [where]))).stdout)).toEqual({
        user: 'brt-u1',
        dest: 0,
      })
    } finally {
      writeFileSync(config, yaml())
      service = await startService(config, SOCKET, join(dir, 'service.log'))
    }
  })

  test('a damaged store is moved aside and reported once, keeping the disabled hosts and banner', async () => {
    expect((await ctl('brt-adm', ['disable', ids()[2]!])).code).toBe(0)
    expect((await ctl('root', ['banner', 'kept banner'])).code).toBe(0)
    try {
      for (const damage of ['header', 'truncate']) {
        await service.stop()
        const bytes = readFileSync(STORE)
        if (damage === 'header')
          writeFileSync(
            STORE,
            Buffer.concat([Buffer.from('garbage!'.repeat(4)), bytes.subarray(32)]),
          )
        else writeFileSync(STORE, bytes.subarray(0, 1024))
        service = await startService(config, SOCKET, join(dir, 'service.log'))
        const warnings = service
          .log()
          .split('\n')
          .filter((l) => l.includes('was damaged'))
        expect(warnings).toHaveLength(1)
        expect(warnings[0]).toContain(`keeping disabled host(s) ${ids()[2]} and the banner`)
        const hosts = JSON.parse((await ctl('root', ['show', 'hosts', '--json'])).stdout) as {
          host: string
          state: string
        }[]
        expect(hosts.find((h) => h.host === ids()[2])?.state).toBe('disabled')
        expect((await ctl('brt-u1', ['show', 'banner'])).stdout).toContain('kept banner')
        const u2 = await run(gw.ssh('brt-u2', [where]))
        expect(served(u2.stdout).dest).toBe(1)
      }
      // reported once: a restart on the repaired store says nothing
      await service.stop()
      service = await startService(config, SOCKET, join(dir, 'service.log'))
      expect(service.log()).not.toContain('damaged')
      expect(existsSync(STORE)).toBe(true)
    } finally {
      await ctl('root', ['enable', '--all'])
      await ctl('root', ['banner', '--clear'])
    }
  })
})
