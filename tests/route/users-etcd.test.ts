// Two gateways sharing state through etcd, each with its own state service; only the services
// hold the etcd password (a root-only file), ordinary users log in through the real sshd.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startEtcd, type TestEtcd } from './etcd'
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

let dir: string
let etcd: TestEtcd
let dests: Awaited<ReturnType<typeof startDest>>[]
const gws: { gw: UserGateway; service: Service; config: string }[] = []
const ids = () => dests.map((d) => `127.0.0.1:${d.port}`)
const where = 'echo $(id -un) $SSH_CONNECTION'
const served = (stdout: string) =>
  dests.findIndex((d) => d.port === Number(stdout.trim().split(/\s+/).at(-1)))
const passFile = () => join(dir, 'etcd-password')
const etcdctl = (...args: string[]) =>
  Bun.spawnSync(['etcdctl', `--endpoints=${etcd.endpoint}`, '--user=root:rootpw', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdout: 'pipe',
    stderr: 'pipe',
  })
const ctl = (i: number, user: User | 'root', args: string[]) =>
  user === 'root'
    ? run([BURROW, 'route', 'ctl', ...args, '--config', gws[i]!.config])
    : asUser(user, [BURROW, 'route', 'ctl', ...args, '--config', gws[i]!.config])

const yaml = (socket: string) =>
  usersYaml(
    ids(),
    [
      'route_select: random',
      `state: {socket: ${socket}, admin_group: ${ADMIN_GROUP}}`,
      // the password is in a file only root (the service) reads; route.yaml is readable by all
      `etcd: {endpoints: ["${etcd.endpoint}"], username: brt-route, password_file: ${passFile()}, keyttl: 2s}`,
    ].join('\n'),
  )

beforeAll(async () => {
  dir = labDir()
  const users = await ensureUsers(dir)
  ;[etcd, ...dests] = await Promise.all([
    startEtcd(),
    ...[0, 1, 2].map(() => startDest(users.destKeys)),
  ])
  const setup = [
    ['user', 'add', 'root', '--new-user-password=rootpw'],
    ['role', 'add', 'brt-route'],
    ['role', 'grant-permission', 'brt-route', '--prefix=true', 'readwrite', '/burrow/'],
    ['user', 'add', 'brt-route', '--new-user-password=s3cret'],
    ['user', 'grant-role', 'brt-route', 'brt-route'],
  ]
  for (const args of setup) {
    const r = Bun.spawnSync(['etcdctl', `--endpoints=${etcd.endpoint}`, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stderr: 'pipe',
    })
    if (r.exitCode !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr}`)
  }
  if (etcdctl('auth', 'enable').exitCode !== 0) throw new Error('etcdctl auth enable failed')
  writeFileSync(passFile(), 's3cret\n', { mode: 0o600 })
  for (const name of ['a', 'b']) {
    const config = join(dir, `${name}.yaml`)
    const socket = join(dir, `brt-${name}.sock`)
    writeFileSync(config, yaml(socket), { mode: 0o644 })
    const service = await startService(config, socket, join(dir, `service-${name}.log`))
    gws.push({ gw: await startUserGateway(dir, config, name), service, config })
  }
})

afterAll(async () => {
  for (const { gw, service } of gws) await Promise.all([gw.stop(), service.stop()])
  await Promise.all([etcd?.stop(), ...(dests ?? []).map((d) => d.stop())])
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('two gateways sharing etcd through their state services', () => {
  test('users cannot read the etcd password, and etcd refuses them without it', async () => {
    const cat = await asUser('brt-u1', ['cat', passFile()])
    expect(cat.code).not.toBe(0)
    expect(cat.stderr).toContain('Permission denied')
    const key = Buffer.from('/burrow/').toString('base64')
    const anonymous = await asUser('brt-u1', [
      'curl',
      '-s',
      '-X',
      'POST',
      `${etcd.endpoint}/v3/kv/range`,
      '-d',
      JSON.stringify({ key }),
    ])
    expect(anonymous.stdout).toContain('user name is empty')
  })

  test('a live session on one gateway makes the other sticky to its host', async () => {
    const [a, b] = gws as [(typeof gws)[0], (typeof gws)[0]]
    const held = Bun.spawn(a.gw.ssh('brt-u1', ['sleep 60']), {
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'ignore',
    })
    try {
      let live: { user: string; destination: string; sshd: string } | undefined
      await waitFor('the session to show on the other gateway', async () => {
        live = (
          JSON.parse(
            (await ctl(1, 'root', ['show', 'connections', '--all', '--json'])).stdout,
          ) as (typeof live & {})[]
        )[0]
        return live !== undefined
      })
      expect(live).toMatchObject({ user: 'brt-u1', sshd: `127.0.0.1:${a.gw.sshd.port}` })
      for (let i = 0; i < 3; i++) {
        const r = await run(b.gw.ssh('brt-u1', [where]))
        expect(r.stdout.split(' ')[0]).toBe('brt-u1')
        expect(ids()[served(r.stdout)]).toBe(live!.destination)
      }
      // another user sees the session only as load: no user, no client address
      const seen = JSON.parse(
        (await ctl(1, 'brt-u2', ['show', 'connections', '--all', '--json'])).stdout,
      ) as { user: string; from: string }[]
      expect(seen).toEqual([expect.objectContaining({ user: '', from: '' })])
    } finally {
      held.kill('SIGKILL')
      await held.exited
    }
  })

  test('a restart of one gateway’s state service: its live session registers again and outlives the old lease', async () => {
    const a = gws[0]!
    const sessions = async () =>
      (
        JSON.parse((await ctl(1, 'root', ['show', 'connections', '--all', '--json'])).stdout) as {
          session: string
        }[]
      ).map((c) => c.session)
    // the session the test before killed goes when the service sees its socket close
    await waitFor(
      'no session left from the test before',
      async () => (await sessions()).length === 0,
      5000,
    )
    const held = Bun.spawn(a.gw.ssh('brt-u1', ['sleep 30']), {
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'ignore',
    })
    try {
      await waitFor(
        'the session to show on the other gateway',
        async () => (await sessions()).length === 1,
      )
      const [sid] = await sessions()
      await a.service.stop()
      a.service = await startService(a.config, join(dir, 'brt-a.sock'), join(dir, 'service-a.log'))
      await waitFor(
        'the session to register again',
        () => a.service.log().includes(`session ${sid} of brt-u1 registered again`),
        5000,
      )
      // keyttl is 2 s: the old service's lease has lapsed by now, the new one holds the key
      await Bun.sleep(3000)
      expect(await sessions()).toEqual([sid!])
    } finally {
      held.kill('SIGKILL')
      await held.exited
    }
    await waitFor(
      'the killed session to stop counting',
      async () => (await sessions()).length === 0,
      5000,
    )
  }, 30_000)

  test('an admin disables a host through one gateway; a user cannot; the other gateway skips it', async () => {
    expect((await ctl(0, 'brt-u2', ['disable', ids()[0]!])).stderr).toContain(
      'only root and members of group brt-admins may change the routing state; you are brt-u2',
    )
    expect((await ctl(0, 'brt-adm', ['disable', ids()[0]!, ids()[1]!])).code).toBe(0)
    try {
      for (let i = 0; i < 3; i++)
        expect(served((await run(gws[1]!.gw.ssh('brt-u2', [where]))).stdout)).toBe(2)
    } finally {
      await ctl(1, 'brt-adm', ['enable', '--all'])
    }
  })

  test('garbage values in etcd are skipped with one warning each; disabled hosts stay disabled', async () => {
    expect((await ctl(0, 'root', ['disable', ids()[2]!])).code).toBe(0)
    const enc = encodeURIComponent
    const garbage = [
      `/burrow/hosts/${enc(ids()[2]!)}`,
      `/burrow/hosts/${enc(ids()[0]!)}`,
      '/burrow/sticky/brt-u1/default',
      '/burrow/connections/brt-u1/default/x/ZZZZZZZZZZ',
      '/burrow/banner',
    ]
    try {
      for (const key of garbage) expect(etcdctl('put', key, 'not json {').exitCode).toBe(0)
      for (let i = 0; i < 3; i++) {
        const r = await run(gws[1]!.gw.ssh('brt-u1', [where]))
        expect(r).toMatchObject({ code: 0, stderr: '' })
        expect(served(r.stdout)).not.toBe(2)
      }
      expect((await ctl(1, 'brt-u1', ['show', 'banner'])).code).toBe(0)
      const hosts = JSON.parse((await ctl(1, 'root', ['show', 'hosts', '--json'])).stdout) as {
        host: string
        state: string
      }[]
      expect(hosts.find((h) => h.host === ids()[2])?.state).toBe('disabled')
      const warned = gws[1]!.service
        .log()
        .split('\n')
        .filter((l) => l.includes('skipping etcd key'))
      for (const key of garbage)
        expect(warned.filter((l) => l.includes(`skipping etcd key ${key}:`))).toHaveLength(1)
    } finally {
      for (const key of garbage) etcdctl('del', key)
      await ctl(0, 'root', ['enable', '--all'])
    }
  })
})
