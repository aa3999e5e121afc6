import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { commOf, descendantPids } from '../support/sshd'
import {
  BURROW,
  type Gateway,
  type Lab,
  routeYaml,
  run,
  servedBy,
  startGateway,
  startLab,
  waitFor,
} from './support'

let lab: Lab
let gw: Gateway
let dead: string
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex')
const dests = () => lab.dests.map((d) => `127.0.0.1:${d.port}`)
const where = 'echo $SSH_CONNECTION'

/** a port nothing listens on */
async function closedPort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1')
  await new Promise((r) => srv.once('listening', r))
  const port = (srv.address() as net.AddressInfo).port
  await new Promise((r) => srv.close(r))
  return port
}

beforeAll(async () => {
  lab = await startLab(3, { unix: true })
  dead = `127.0.0.1:${await closedPort()}`
  gw = await startGateway(lab, routeYaml(lab, dests()))
})

afterAll(async () => {
  await gw?.stop()
  await lab?.stop()
})

describe('route as sshd ForceCommand', () => {
  test('runs the command on the first destination and passes the exit code and both streams', async () => {
    const r = await run(gw.ssh([`${where}; echo oops >&2; exit 3`]))
    expect(r.code).toBe(3)
    expect(servedBy(lab, r.stdout)).toBe(0)
    expect(r.stderr).toBe('oops\n')
  })

  test('ssh.args with ProxyCommand=none keep ssh connecting by itself (instead of through route connect)', async () => {
    gw.setConfig(routeYaml(lab, dests()).replace('"-q", ', '"-q", "-o", "ProxyCommand=none", '))
    try {
      const r = await run(gw.ssh([`${where}; exit 4`]))
      expect(r.code).toBe(4)
      expect(servedBy(lab, r.stdout)).toBe(0)
      expect(r.stderr).toBe('')
    } finally {
      gw.setConfig(routeYaml(lab, dests()))
    }
  })

  test('passes stdin through and keeps binary data intact', async () => {
    const data = new Uint8Array(3 << 20).map((_, i) => (i * 7919) % 251)
    const r = await run(gw.ssh(['sha256sum']), { stdin: data })
    expect(r.code).toBe(0)
    expect(r.stdout.split(' ')[0]).toBe(sha(data))
  })

  test('scp in both modes, sftp, rsync and git pass through', async () => {
    const dir = join(lab.dir, 'files')
    mkdirSync(dir, { recursive: true })
    const src = join(dir, 'src.bin')
    const payload = new Uint8Array(2 << 20).map((_, i) => (i * 31) % 256)
    writeFileSync(src, payload)
    const scp = (mode: string, from: string, to: string) =>
      run(['scp', mode, '-q', '-F', gw.clientConfig, '-P', String(gw.sshd.port), from, to])
    const remote = (name: string) => `127.0.0.1:${join(dir, name)}`
    for (const mode of ['-O', '-s']) {
      const up = await scp(mode, src, remote(`up${mode}`))
      expect(up).toMatchObject({ code: 0, stderr: '' })
      expect(sha(readFileSync(join(dir, `up${mode}`)))).toBe(sha(payload))
      const down = await scp(mode, remote(`up${mode}`), join(dir, `down${mode}`))
      expect(down.code).toBe(0)
      expect(sha(readFileSync(join(dir, `down${mode}`)))).toBe(sha(payload))
    }
    const batch = join(dir, 'batch')
    writeFileSync(
      batch,
      `put ${src} ${join(dir, 'sftp.bin')}\nget ${join(dir, 'sftp.bin')} ${join(dir, 'sftp-back.bin')}\n`,
    )
    const sftp = await run([
      'sftp',
      '-q',
      '-F',
      gw.clientConfig,
      '-P',
      String(gw.sshd.port),
      '-b',
      batch,
      '127.0.0.1',
    ])
    expect(sftp.code).toBe(0)
    expect(sha(readFileSync(join(dir, 'sftp-back.bin')))).toBe(sha(payload))
    const rsh = `ssh -F ${gw.clientConfig} -p ${gw.sshd.port}`
    const rsync = await run(['rsync', '-a', '-e', rsh, src, `127.0.0.1:${join(dir, 'rsync.bin')}`])
    expect(rsync).toMatchObject({ code: 0, stderr: '' })
    expect(sha(readFileSync(join(dir, 'rsync.bin')))).toBe(sha(payload))
    const repo = join(dir, 'repo.git')
    expect((await run(['git', 'init', '-q', '--bare', repo])).code).toBe(0)
    const git = await run(
      ['git', 'clone', '-q', `ssh://127.0.0.1:${gw.sshd.port}${repo}`, join(dir, 'clone')],
      {
        env: { GIT_SSH_COMMAND: `ssh -F ${gw.clientConfig}` },
      },
    )
    expect(git.stderr).not.toContain('fatal')
    expect(git.code).toBe(0)
    expect(existsSync(join(dir, 'clone/.git'))).toBe(true)
  })

  test('hostile commands reach the destination as a command, never as ssh options', async () => {
    const marker = join(lab.dir, 'pwned')
    const hostile = [
      `-oProxyCommand=touch ${marker}`,
      `-F/dev/null -oProxyCommand=touch${marker}`,
      '--',
      '-s sftp',
      `-oLocalCommand=touch ${marker} -oPermitLocalCommand=yes`,
    ]
    const d = lab.dests[0]!
    for (const cmd of hostile) {
      const r = await run(gw.ssh(['--', cmd]))
      // exactly what the destination's shell makes of it when asked directly
      const direct = await run([
        'ssh',
        '-F',
        d.sshConfig(),
        '-p',
        String(d.port),
        '127.0.0.1',
        '--',
        cmd,
      ])
      expect(r).toEqual(direct)
      expect(r.code).not.toBe(0)
      expect(existsSync(marker)).toBe(false)
    }
    // shell syntax runs in the user's shell on the destination, as with a direct login
    const subst = await run(gw.ssh([`echo $(${where})`]))
    expect(servedBy(lab, subst.stdout)).toBe(0)
    const nl = await run(gw.ssh(['echo one\necho two']))
    expect(nl.stdout).toBe('one\ntwo\n')
    // variables sent by the client do not become ssh options on the gateway
    const env = await run(
      ['ssh', '-o', 'SendEnv=SSHPROXY_ARGS BURROW_SSH_ARGS', ...gw.ssh([where]).slice(1)],
      {
        env: {
          SSHPROXY_ARGS: `-oProxyCommand=touch ${marker}`,
          BURROW_SSH_ARGS: `-oProxyCommand=touch ${marker}`,
        },
      },
    )
    expect(env.code).toBe(0)
    expect(existsSync(marker)).toBe(false)
  })

  test('a unix-socket destination is reached through burrow proxy', async () => {
    gw.setConfig(routeYaml(lab, [`unix${lab.unix!.socketPath}`]))
    try {
      const r = await run(gw.ssh(['echo via-unix; exit 4']))
      expect(r).toMatchObject({ code: 4, stdout: 'via-unix\n', stderr: '' })
    } finally {
      gw.setConfig(routeYaml(lab, dests()))
    }
  })

  test('config errors name the file and line, on the client and on the command line', async () => {
    const bad = [
      [
        'dest: [a]\nsevice: x\n',
        /route\.yaml:2:1: unknown key 'sevice' in the config \(did you mean 'service'\?\)/,
      ],
      [
        'dest: [a]\nroute_select: fastest\n',
        /:2:15: route_select must be one of ordered, random, connections, bandwidth/,
      ],
      [
        'dest: [a]\noverrides:\n  - match: [{user: [bob]}]\n    service: b\n',
        /:3:14: unknown key 'user' in a match condition \(did you mean 'users'\?\)/,
      ],
      ['dest: ["node[3-1]"]\n', /:1:7: bad dest: range 3-1 in 'node\[3-1\]' runs backwards/],
      ['dest: [a]\ncheck_interval: soon\n', /:2:17: check_interval must be a duration/],
      ['dest: [a]\ndest: [b]\n', /:2:1: Map keys must be unique/],
    ] as const
    for (const [yaml, message] of bad) {
      gw.setConfig(yaml)
      const r = await run(gw.ssh(['true']))
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).toStartWith(`burrow: Failed to load ${gw.configPath}:`)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
    gw.setConfig(routeYaml(lab, dests()))
    const direct = await run([BURROW, 'route', '--config', join(lab.dir, 'missing.yaml')], {
      env: { SSH_CONNECTION: '127.0.0.1 1 127.0.0.1 22' },
    })
    expect(direct.code).toBe(1)
    expect(direct.stderr).toContain('Failed to read')
  })
})

describe('selection, health and embedded state', () => {
  const withConfig = async (extra: string, list: string[], fn: () => Promise<void>) => {
    gw.setConfig(routeYaml(lab, list, extra))
    try {
      await fn()
    } finally {
      gw.setConfig(routeYaml(lab, dests()))
      await gw.ctl(['enable', '--all'])
    }
  }

  /** a long session that holds its destination; resolves to its stopper once registered */
  async function hold(args: string[] = []): Promise<{ stop: () => Promise<void> }> {
    const before = (await gw.ctl(['show', 'connections', '--all', '--json'])).stdout
    const n = JSON.parse(before).length
    const p = Bun.spawn(gw.ssh(['sleep 60', ...args]), {
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
    })
    try {
      await waitFor(
        'the session to register',
        async () =>
          JSON.parse((await gw.ctl(['show', 'connections', '--all', '--json'])).stdout).length > n,
      )
    } catch (err) {
      // what the session said (a store it could not write says so on stderr) belongs in the failure
      p.kill('SIGKILL')
      throw new Error(
        `${(err as Error).message}; the session said: ${JSON.stringify(await new Response(p.stderr).text())}`,
      )
    }
    return {
      stop: async () => {
        p.kill('SIGKILL')
        await p.exited
        // the gateway notices the client is gone within about a second
        await waitFor(
          'the session to end',
          async () =>
            JSON.parse((await gw.ctl(['show', 'connections', '--all', '--json'])).stdout).length <=
            n,
        )
      },
    }
  }

  test('ordered fails over past a closed port and a port that never sends a banner', async () => {
    let accepted = 0
    const silent = net.createServer(() => accepted++).listen(0, '127.0.0.1')
    await new Promise((r) => silent.once('listening', r))
    const mute = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`
    const sshLeft = () => descendantPids(gw.sshd.pid).filter((p) => commOf(p) === 'ssh')
    try {
      // 1s: time enough for the ssh started beside the probe to connect, even on a busy machine
      await withConfig('check_timeout: 1s', [dead, mute, dests()[1]!], async () => {
        const r = await run(gw.ssh([where]))
        expect(r.code).toBe(0)
        expect(servedBy(lab, r.stdout)).toBe(1)
        // ssh (quiet) started beside each probe; the ones to down hosts were stopped unheard
        expect(r.stderr).toBe('')
        expect(accepted).toBe(2)
        expect(sshLeft()).toEqual([])
        const hosts = JSON.parse((await gw.ctl(['show', 'hosts', '--json'])).stdout) as {
          host: string
          state: string
        }[]
        expect(hosts.find((h) => h.host === dead)?.state).toBe('down')
        expect(hosts.find((h) => h.host === mute)?.state).toBe('down')
      })
      // without -q a stopped attempt could print; then ssh starts only after the check
      accepted = 0
      const loud = routeYaml(lab, [dead, mute, dests()[1]!], 'check_timeout: 300ms').replace(
        '"-q", ',
        '',
      )
      expect(loud).not.toContain('"-q"')
      gw.setConfig(loud)
      try {
        const r = await run(gw.ssh([where]))
        expect(r.code).toBe(0)
        expect(servedBy(lab, r.stdout)).toBe(1)
        expect(r.stderr).toBe('')
        expect(accepted).toBe(1)
      } finally {
        gw.setConfig(routeYaml(lab, dests()))
      }
    } finally {
      silent.close()
    }
  })

  test('disabled hosts are skipped; no host up prints the banner and fails', async () => {
    await withConfig('error_banner: "Maintenance until noon"', dests().slice(0, 2), async () => {
      expect((await gw.ctl(['disable', dests()[0]!])).stdout).toBe(`${dests()[0]} disabled\n`)
      expect(servedBy(lab, (await run(gw.ssh([where]))).stdout)).toBe(1)
      await gw.ctl(['disable', '--all'])
      const none = await run(gw.ssh([where]))
      expect(none.code).toBe(1)
      expect(none.stderr).toStartWith('Maintenance until noon\n')
      expect(none.stderr).toContain('no destination is up')
      expect((await gw.ctl(['banner', 'Back at 14:00', '--expire', '1h'])).code).toBe(0)
      expect((await run(gw.ssh([where]))).stderr).toStartWith('Back at 14:00\n')
      await gw.ctl(['banner', '--clear'])
      await gw.ctl(['enable', '--all'])
      expect(servedBy(lab, (await run(gw.ssh([where]))).stdout)).toBe(0)
    })
  })

  test('check marks a dead host down ahead of time and sessions trust it for check_interval', async () => {
    await withConfig('check_interval: 1h', [dead, dests()[2]!], async () => {
      await gw.ctl(['forget', 'host', '--all'])
      const check = await run([BURROW, 'route', 'check', '--config', gw.configPath])
      expect(check.stdout).toContain(`${dead} down`)
      expect(check.stdout).toContain(`${dests()[2]} up`)
      const hosts = JSON.parse((await gw.ctl(['show', 'hosts', '--json'])).stdout) as {
        host: string
        last_check: string
      }[]
      const stamp = hosts.find((h) => h.host === dead)!.last_check
      expect(servedBy(lab, (await run(gw.ssh([where]))).stdout)).toBe(2)
      const again = JSON.parse((await gw.ctl(['show', 'hosts', '--json'])).stdout) as {
        host: string
        last_check: string
      }[]
      expect(again.find((h) => h.host === dead)!.last_check).toBe(stamp)
    })
  })

  test('sticky returns to the host of a live session, then of a remembered one', async () => {
    await withConfig('route_select: random\nmode: sticky\nsticky_ttl: 1h', dests(), async () => {
      await gw.ctl(['forget', 'sticky'])
      const held = await hold()
      const first = (
        JSON.parse((await gw.ctl(['show', 'connections', '--all', '--json'])).stdout) as {
          destination: string
        }[]
      )[0]!.destination
      for (let i = 0; i < 4; i++)
        expect(dests()[servedBy(lab, (await run(gw.ssh([where]))).stdout)]).toBe(first)
      await held.stop()
      expect(dests()[servedBy(lab, (await run(gw.ssh([where]))).stdout)]).toBe(first)
      expect((await gw.ctl(['show', 'sticky', '--csv'])).stdout).toContain(`root,default,${first},`)
    })
  })

  test('balanced with connections spreads live sessions over all hosts', async () => {
    await withConfig('route_select: connections\nmode: balanced', dests(), async () => {
      const held = [await hold(), await hold(), await hold()]
      try {
        const rows = JSON.parse((await gw.ctl(['show', 'connections', '--json'])).stdout) as {
          destination: string
          n_conns: number
        }[]
        expect(rows.map((r) => r.destination).sort()).toEqual([...dests()].sort())
        expect(rows.every((r) => r.n_conns === 1)).toBe(true)
        const users = await gw.ctl(['show', 'users'])
        expect(users.stdout).toMatch(/^root\s+root\s+3\s+default/m)
      } finally {
        await Promise.all(held.map((h) => h.stop()))
      }
    })
  })

  test('max_connections_per_user refuses the extra session; a killed session stops counting', async () => {
    await withConfig('max_connections_per_user: 1', dests(), async () => {
      const held = await hold()
      const r = await run(gw.ssh(['true']))
      expect(r.code).toBe(1)
      expect(r.stderr).toContain('too many simultaneous connections (1 open, at most 1 allowed)')
      await held.stop()
      await waitFor(
        'the killed session to stop counting',
        async () => (await run(gw.ssh(['true']))).code === 0,
      )
      const left = descendantPids(gw.sshd.pid).map(commOf)
      expect(left.filter((c) => c === 'ssh' || c === 'burrow')).toEqual([])
    })
  })

  test('overrides by source port pick another service and pool; ctl shows the effective config', async () => {
    const multi = await startGateway(lab, '', { extraPorts: 1, name: 'multi' })
    try {
      const [p1, p2] = multi.sshd.ports
      multi.setConfig(
        routeYaml(
          lab,
          [dests()[0]!],
          `overrides:\n  - match: [{sources: ["127.0.0.1:${p2}"]}]\n    service: second\n    dest: ["${dests()[2]}"]\n`,
        ),
      )
      expect(servedBy(lab, (await run(multi.ssh([where], p1))).stdout)).toBe(0)
      expect(servedBy(lab, (await run(multi.ssh([where], p2))).stdout)).toBe(2)
      const shown = await multi.ctl([
        'show',
        'config',
        '--user',
        'alice',
        '--source',
        `127.0.0.1:${p2}`,
      ])
      expect(shown.stdout).toContain('service: second')
      expect(shown.stdout).toContain(`# destinations: ${dests()[2]}`)
    } finally {
      await multi.stop()
    }
  })

  test('ctl prints tables, CSV and JSON', async () => {
    const held = await hold()
    try {
      const table = await gw.ctl(['show', 'connections'])
      expect(table.stdout).toMatch(/^User\s+Service\s+Destination\s+# of conns/)
      expect(table.stdout).toMatch(/^Total\s+1/m)
      const csv = await gw.ctl(['show', 'connections', '--all', '--csv'])
      expect(csv.stdout.trim().split(',').slice(0, 2)).toEqual(['root', 'default'])
      const bad = await gw.ctl(['show', 'everything'])
      expect(bad).toMatchObject({
        code: 1,
        stderr:
          "burrow: Failed to show 'everything': expected hosts, users, connections, sticky, banner or config\n",
      })
    } finally {
      await held.stop()
    }
  })
})

describe('recording', () => {
  test('a terminal session is asciicast v2 that asciinema and replay play; other sessions are a byte log', async () => {
    const dumps = join(lab.dir, 'dumps')
    gw.setConfig(routeYaml(lab, dests(), `dump: ${dumps}/{user}/{sid}`))
    try {
      const tty = await run(gw.ssh(['-tt', 'printf "hello from the pty\\n"; exit 5']))
      expect(tty.code).toBe(5)
      expect(tty.stdout).toContain('hello from the pty')
      const pipe = await run(gw.ssh(['cat; echo to-stderr >&2']), { stdin: 'piped input\n' })
      expect(pipe).toMatchObject({ code: 0, stdout: 'piped input\n', stderr: 'to-stderr\n' })
      const files = [...new Bun.Glob('root/*').scanSync(dumps)].map((f) => join(dumps, f))
      const cast = files.find((f) => f.endsWith('.cast'))!
      const log = files.find((f) => f.endsWith('.log'))!
      const header = JSON.parse(readFileSync(cast, 'utf8').split('\n')[0]!)
      expect(header).toMatchObject({ version: 2, width: 80, height: 24 })
      // asciinema insists on a terminal: script(1) gives it one
      const played = await run(['script', '-qec', `asciinema cat ${cast}`, '/dev/null'])
      expect(played.code).toBe(0)
      expect(played.stdout).toContain('hello from the pty')
      const replay = await run([BURROW, 'route', 'replay', '--speed', '100', cast])
      expect(replay.stdout).toContain('hello from the pty')
      const dump = await run([BURROW, 'route', 'replay', '--dump', log])
      expect(dump.stdout).toContain('--> piped input\\n')
      expect(dump.stdout).toContain('<-- piped input\\n')
      expect(dump.stdout).toContain('<== to-stderr\\n')
      const real = await run([BURROW, 'route', 'replay', log])
      expect(real).toMatchObject({ code: 0, stdout: 'piped input\n', stderr: 'to-stderr\n' })
    } finally {
      gw.setConfig(routeYaml(lab, dests()))
      rmSync(dumps, { recursive: true, force: true })
    }
  })
})
