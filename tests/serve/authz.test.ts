/**
 * docs/security.md "serve: what a login reaches in Incus, and with whose rights", row by row,
 * through the real ssh client, real host users and the real incusd. The incus-group users are set
 * up the way incus-user would set them up, by hand (authz-support.ts says exactly what and what
 * not): incus-user itself is never started here.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { IncusClient } from '../../src/incus/client'
import { userEndpoint } from '../../src/incus/endpoint'
import { ensureContainer, incus, incusAvailable, testClient } from '../../src/incus/testing'
import {
  backgroundSsh,
  burrowDevices,
  daemonIn,
  ensureHostUser,
  firstBytes,
  removeIncusUserFiles,
  setupIncusUser,
  sh,
  until,
  w,
} from './authz-support'
import type { Serve } from './support'
import { ssh, startServe } from './support'

const ADM = 'bsz-adm' // incus-admin
const INC = 'bsz-inc' // incus, set up as incus-user would
const INC2 = 'bsz-inc2' // incus, set up, and its project also blocks nesting
const NEW = 'bsz-new' // incus, never ran `incus` (no incus-user files)
const OUT = 'bsz-out' // neither group
const USERS = [ADM, INC, INC2, NEW, OUT]

const DEF = 'bsz-def' // default project
const OTHER_PROJECT = 'bsz-other'
const OTHER = 'bsz-other'
const MINE = 'bsz-mine' // in user-<uid of bsz-inc>
const CREATED = ['bsz-cp', 'bsz-cn', 'bsz-ca', 'bsz-cm']

const HOST_DIR = '/tmp/bsz-host'
/** prints the instance's name (the image's hostname is the same everywhere) */
const NAME = 'cat /etc/bsz-name'
let uidInc = 0
let uidNew = 0
let uidInc2 = 0
let alice = { uid: 0, gid: 0 }
let s: Serve
let inauth: Serve
let create: Serve
let dir: string
const hostDaemons: ReturnType<typeof Bun.spawn>[] = []

describe.skipIf(!incusAvailable())('serve: Incus reach and forwarding rights', () => {
  beforeAll(async () => {
    ensureHostUser(ADM, ['incus-admin'])
    ensureHostUser(INC, ['incus'])
    ensureHostUser(INC2, ['incus'])
    uidNew = ensureHostUser(NEW, ['incus'])
    ensureHostUser(OUT, [])
    uidInc = await setupIncusUser(INC)
    uidInc2 = await setupIncusUser(INC2, { 'restricted.containers.nesting': 'block' })
    removeIncusUserFiles(uidNew)
    await Promise.all([
      ensureContainer({
        name: DEF,
        marker: '/etc/bsz-setup',
        setup: [
          'id alice >/dev/null 2>&1 || useradd -m -s /bin/bash alice',
          'mkdir -p /bsz-victim && echo precious > /bsz-victim/s.sock && chmod 755 /bsz-victim',
        ].join('\n'),
      }),
      ensureContainer({
        name: OTHER,
        project: OTHER_PROJECT,
        marker: '/etc/bsz-name',
        setup: `echo ${OTHER} > /etc/bsz-name`,
      }),
      ensureContainer({
        name: MINE,
        project: `user-${uidInc}`,
        marker: '/etc/bsz-name',
        setup: `echo ${MINE} > /etc/bsz-name`,
      }),
      Promise.all(CREATED.map((n) => incus('delete', '--force', n).catch(() => {}))),
      incus('delete', '--force', 'bsz-cm', '--project', `user-${uidInc}`).catch(() => {}),
    ])
    const id = (await sh(DEF, 'default', 'id -u alice; id -g alice')).stdout.trim().split('\n')
    alice = { uid: Number(id[0]), gid: Number(id[1]) }
    await daemonIn(
      DEF,
      'default',
      'bsz-root.sock',
      `UNIX-LISTEN:/run/bsz-root.sock,fork,mode=600 SYSTEM:"echo hello-root"`,
    )
    await daemonIn(
      DEF,
      'default',
      'bsz-open.sock',
      `UNIX-LISTEN:/tmp/bsz-open.sock,fork,mode=666 SYSTEM:"echo hello-open"`,
    )
    await daemonIn(
      DEF,
      'default',
      'TCP-LISTEN:7001',
      `TCP-LISTEN:7001,bind=127.0.0.1,fork,reuseaddr SYSTEM:"echo hello-def"`,
    )
    await daemonIn(
      OTHER,
      OTHER_PROJECT,
      'TCP-LISTEN:7001',
      `TCP-LISTEN:7001,bind=127.0.0.1,fork,reuseaddr SYSTEM:"echo hello-other"`,
    )
    await daemonIn(
      MINE,
      `user-${uidInc}`,
      'TCP-LISTEN:7001',
      `TCP-LISTEN:7001,bind=127.0.0.1,fork,reuseaddr SYSTEM:"echo hello-mine"`,
    )
    // host sockets: one only root may open, one anybody may
    rmSync(HOST_DIR, { recursive: true, force: true })
    mkdirSync(HOST_DIR, { mode: 0o755 })
    for (const [file, mode, text] of [
      ['root.sock', '600', 'hello-host-root'],
      ['open.sock', '666', 'hello-host-open'],
    ] as const) {
      hostDaemons.push(
        Bun.spawn(
          ['socat', `UNIX-LISTEN:${HOST_DIR}/${file},fork,mode=${mode}`, `SYSTEM:echo ${text}`],
          {
            stdin: 'ignore',
            stdout: 'ignore',
            stderr: 'ignore',
          },
        ),
      )
    }
    dir = mkdtempSync('/tmp/bsz-authz-')
    writeFileSync(
      join(dir, 'create-config.yaml'),
      'version: "1"\ndefaults:\n  image: burrow/debian\n',
    )
    const keysFor = ['root', ...USERS]
    ;[s, inauth, create] = await Promise.all([
      startServe([], { keysFor }),
      startServe(['--inauth'], { keysFor }),
      startServe(['--allow-create', '--create-config', join(dir, 'create-config.yaml')], {
        keysFor,
      }),
    ])
  }, 240_000)

  afterAll(async () => {
    for (const p of hostDaemons) p.kill()
    await Promise.all([s?.stop(), inauth?.stop(), create?.stop()])
    await Promise.all(CREATED.map((n) => incus('delete', '--force', n).catch(() => {})))
    await incus('delete', '--force', 'bsz-cm', '--project', `user-${uidInc}`).catch(() => {})
    rmSync(HOST_DIR, { recursive: true, force: true })
    if (dir) rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  test('incus member: its own project user-<uid>, through its restricted certificate', async () => {
    const r = await ssh(s, `${MINE}+${INC}`, NAME)
    expect(r).toMatchObject({ code: 0, stdout: `${MINE}\n` })
    const named = await ssh(s, `${MINE}.user-${uidInc}+${INC}`, NAME)
    expect(named).toMatchObject({ code: 0, stdout: `${MINE}\n` })
    expect(s.log()).toContain(`Incus as ${INC} (incus: certificate for user-${uidInc})`)
  })

  test('incus member: no instance of another project, nor of the default project', async () => {
    const other = await ssh(s, `${OTHER}.${OTHER_PROJECT}+${INC}`, 'hostname')
    expect(other.code).not.toBe(0)
    expect(other.stdout).toBe('')
    expect(other.stderr).toContain(`does not have permission for project "${OTHER_PROJECT}"`)
    // no project and `.default` both mean the member's own project; bsz-def is not there
    const def = await ssh(s, `${DEF}.default+${INC}`, 'hostname')
    expect(def.code).not.toBe(0)
    expect(def.stderr).toContain(`Failed to find instance ${DEF}`)
    // and Incus itself refuses the default project to the certificate
    const c = new IncusClient(userEndpoint(uidInc, INC))
    await expect(c.instance(DEF, 'default')).rejects.toThrow(
      'does not have permission for project "default"',
    )
    c.close()
    // the same through a jump to an Incus address
    expect(await w(s, `${MINE}+${INC}`, `incus%${OTHER}.${OTHER_PROJECT}:7001`)).toBe('')
    expect(s.log()).toContain(`does not have permission for project "${OTHER_PROJECT}"`)
    // control: root reaches both
    expect(await w(s, 'root', `incus%${OTHER}.${OTHER_PROJECT}:7001`)).toBe('hello-other\n')
  })

  test("incus member: TCP into its own container, as incus exec could; devices are Incus's to allow", async () => {
    // TCP to an address takes a socket made in the container's namespace (policy.ts
    // insideSocketAllowed): the same connect a process there could make
    expect(await w(s, `${MINE}+${INC}`, `incus%${MINE}:7001`)).toBe('hello-mine\n')
    // what needs a device (here -R to a socket path) is Incus's decision: restricted projects
    // refuse proxy devices
    const r = await ssh(s, `${MINE}+${INC}`, 'true', {
      extra: [
        '-o',
        'ExitOnForwardFailure=yes',
        '-R',
        `/tmp/bsz-r-${process.pid}.sock:/tmp/bsz-nowhere.sock`,
      ],
    })
    expect(r.code).toBe(255)
    for (let i = 0; i < 50 && !s.log().includes('Proxy devices are forbidden'); i++)
      await Bun.sleep(100)
    expect(s.log()).toContain(`project "user-${uidInc}": Proxy devices are forbidden`)
  })

  test('incus-admin member: the admin socket, every project', async () => {
    const r = await ssh(s, `${OTHER}.${OTHER_PROJECT}+${ADM}`, NAME)
    expect(r).toMatchObject({ code: 0, stdout: `${OTHER}\n` })
  })

  test('a user in neither group is refused', async () => {
    const r = await ssh(s, `${DEF}+${OUT}`, 'hostname')
    expect(r.code).toBe(255)
    expect(r.stderr).toContain('Permission denied')
  })

  test('an incus member without incus-user setup gets one line saying how to get it', async () => {
    const r = await ssh(s, `${DEF}+${NEW}`, 'hostname')
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      `burrow: Failed to use Incus as ${NEW}: no restricted client certificate in /var/lib/incus/users/${uidNew}/ (run \`incus\` once as ${NEW} on this host, where incus-user sets it up)\n`,
    )
  })

  test('creation goes through the restricted certificate: no privileged, project nesting rules', async () => {
    const priv = await ssh(create, `+bsz-cp+priv+${INC}`, 'hostname')
    expect(priv.code).toBe(1)
    expect(priv.stderr).toMatch(/[Pp]rivileged containers are forbidden/)
    const nest = await ssh(create, `+bsz-cn+nest+${INC2}`, 'hostname')
    expect(nest.code).toBe(1)
    // burrow's +nest also turns on syscall interception; Incus refuses what the project blocks
    expect(nest.stderr).toMatch(/Failed to create instance bsz-cn: .*forbidden/)
    await expect(testClient().instance('bsz-cn', `user-${uidInc2}`)).rejects.toThrow('not found')
    // control: the member creates a plain container, in its own project
    const mine = await ssh(create, `+bsz-cm+${INC}`, 'echo made')
    expect(mine).toMatchObject({ code: 0, stdout: 'made\n' })
    await testClient().instance('bsz-cm', `user-${uidInc}`)
    // control: incus-admin creates a privileged one
    const adm = await ssh(create, `+bsz-ca+priv+${ADM}`, 'echo made')
    expect(adm).toMatchObject({ code: 0, stdout: 'made\n' })
    const cfg = await testClient().get<{ config: Record<string, string> }>('/1.0/instances/bsz-ca')
    expect(cfg.config['security.privileged']).toBe('true')
  }, 120_000)

  test('jump to a host socket runs as the host user: root-only refused, accessible works', async () => {
    const open = `[unix%${HOST_DIR}/open.sock]:22`
    const root = `[unix%${HOST_DIR}/root.sock]:22`
    expect(await w(s, `${MINE}+${INC}`, open)).toBe('hello-host-open\n')
    expect(await w(s, `${MINE}+${INC}`, root)).toBe('')
    expect(await w(s, `${DEF}+${ADM}`, open)).toBe('hello-host-open\n')
    expect(await w(s, `${DEF}+${ADM}`, root)).toBe('')
    expect(s.log()).toMatch(/jump to unix%\/tmp\/bsz-host\/root\.sock port 22: .*Permission denied/)
    // control: root may
    expect(await w(s, DEF, root)).toBe('hello-host-root\n')
  })

  test('an --inauth identity forwards only inside its own instance', async () => {
    // a key only alice's own authorized_keys in bsz-def holds
    const key = join(dir, 'alice')
    Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key])
    const pub = await Bun.file(`${key}.pub`).text()
    const put = await sh(
      DEF,
      'default',
      `install -d -o alice -g alice -m 700 /home/alice/.ssh && printf '%s' "$1" > /home/alice/.ssh/authorized_keys && chown alice: /home/alice/.ssh/authorized_keys`.replace(
        '"$1"',
        `'${pub.trim()}\n'`,
      ),
    )
    expect(put.code).toBe(0)
    const login = `alice@${DEF}`
    expect(await w(inauth, login, `incus%${DEF}:7001`, key)).toBe('hello-def\n')
    expect(await w(inauth, login, `incus%${OTHER}.${OTHER_PROJECT}:7001`, key)).toBe('')
    expect(await w(inauth, login, `[unix%${HOST_DIR}/open.sock]:22`, key)).toBe('')
    expect(inauth.log()).toContain('may only forward inside it')
  })

  test("instance user's -L to a root-only socket in the instance is refused; its own works", async () => {
    const [p1, p2] = [
      21000 + Math.floor(Math.random() * 2000),
      23000 + Math.floor(Math.random() * 2000),
    ]
    const fwd = backgroundSsh(s, `alice@${DEF}`, [
      '-L',
      `127.0.0.1:${p1}:/tmp/bsz-open.sock`,
      '-L',
      `127.0.0.1:${p2}:/run/bsz-root.sock`,
    ])
    try {
      expect(await firstBytes(p1)).toBe('hello-open\n')
      expect(await firstBytes(p2)).toBe('')
    } finally {
      fwd.kill()
      await fwd.exited
    }
    // control: as root in the instance the same socket answers
    const rootFwd = backgroundSsh(s, DEF, ['-L', `127.0.0.1:${p2}:/run/bsz-root.sock`])
    try {
      expect(await firstBytes(p2)).toBe('hello-root\n')
    } finally {
      rootFwd.kill()
      await rootFwd.exited
    }
  }, 60_000)

  test('-R to a socket path: made by the user, cleanup never follows a folder the user swapped', async () => {
    const asAlice = { user: alice.uid, group: alice.gid }
    const reset =
      'rm -rf /home/alice/d /home/alice/d.old && install -d -o alice -g alice /home/alice/d'
    const victim =
      'mkdir -p /bsz-victim && chmod 755 /bsz-victim && echo precious > /bsz-victim/s.sock'
    expect((await sh(DEF, 'default', victim)).code).toBe(0)
    expect((await sh(DEF, 'default', reset)).code).toBe(0)
    const link = '/home/alice/d/s.sock'
    const fwd = backgroundSsh(s, `alice@${DEF}`, ['-R', `${link}:127.0.0.1:9`])
    const made = await until(async () => (await sh(DEF, 'default', `[ -L ${link} ]`)).code === 0)
    expect(made).toBe(true)
    // the user's path is alice's own symlink; the socket root made sits in /run, alice's, 0600
    const st = await sh(
      DEF,
      'default',
      `stat -c '%U' ${link}; stat -L -c '%U %a %F' ${link}; readlink ${link}`,
    )
    const [owner, target, to] = st.stdout.trim().split('\n')
    expect(owner).toBe('alice')
    expect(target).toBe('alice 600 socket')
    expect(to).toMatch(/^\/run\/burrow-fwd-[0-9a-f]+\.sock$/)
    // alice swaps the folder for a link to a root-owned one holding a file of the same name
    const swap = await sh(
      DEF,
      'default',
      'mv /home/alice/d /home/alice/d.old && ln -s /bsz-victim /home/alice/d',
      asAlice,
    )
    expect(swap.code).toBe(0)
    fwd.kill()
    await fwd.exited
    expect(await until(async () => (await burrowDevices(DEF, 'default')).length === 0)).toBe(true)
    await Bun.sleep(300)
    expect((await sh(DEF, 'default', 'cat /bsz-victim/s.sock')).stdout).toBe('precious\n')
    expect((await sh(DEF, 'default', `[ -e ${to} ]`)).code).not.toBe(0)
    // control: without a swap, the link goes when the forwarding does
    expect((await sh(DEF, 'default', reset)).code).toBe(0)
    const again = backgroundSsh(s, `alice@${DEF}`, ['-R', `${link}:127.0.0.1:9`])
    expect(await until(async () => (await sh(DEF, 'default', `[ -L ${link} ]`)).code === 0)).toBe(
      true,
    )
    again.kill()
    await again.exited
    expect(await until(async () => (await sh(DEF, 'default', `[ -L ${link} ]`)).code !== 0)).toBe(
      true,
    )
  }, 60_000)

  test('-R to a path the instance user may not write is refused and nothing appears there', async () => {
    const fwd = backgroundSsh(s, `alice@${DEF}`, ['-R', '/etc/bsz-nope.sock:127.0.0.1:9'])
    const code = await Promise.race([fwd.exited, Bun.sleep(10_000).then(() => 'timeout')])
    if (code === 'timeout') fwd.kill()
    expect(code).toBe(255)
    expect(await new Response(fwd.stderr).text()).toContain('forwarding failed')
    expect((await sh(DEF, 'default', '[ -e /etc/bsz-nope.sock ]')).code).not.toBe(0)
  })
})
