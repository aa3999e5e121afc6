// `burrow proxy` driven by the real OpenSSH client against real sshd (unix socket and TCP).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync, mkdtempSync, randomBytes, rmSync, writeFileSync } from './fs'
import { join } from 'node:path'
import { startTcpSshd, startUnixSshd, type TestSshd } from '../support/sshd'
import { BURROW, burrowPids, installFragment, run, sha256File } from './run'

let dir: string
let sshd: TestSshd
let sock: string
let cfg: string
let data: string

beforeAll(async () => {
  dir = mkdtempSync('/tmp/bp-')
  // mixed case on purpose: OpenSSH lowercases %h for `unix/...`
  mkdirSync(join(dir, 'MiXed'))
  sock = join(dir, 'MiXed', 'Ssh.Sock')
  sshd = await startUnixSshd({ socketPath: sock })
  const fragment = await installFragment(join(dir, 'root'))
  // the alias comes first: `Match host` in the fragment sees HostName after substitution
  cfg = sshd.sshConfig(`Host myvm\n    HostName unix%%${sock}\nHost *\nInclude ${fragment}`)
  data = join(dir, 'data.bin')
  writeFileSync(data, randomBytes(8 << 20))
})

afterAll(async () => {
  await sshd?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const ssh = (args: string[], opts?: Parameters<typeof run>[1]) =>
  run(['ssh', '-F', cfg, ...args], opts)

describe('ssh through burrow proxy to a unix-socket sshd', () => {
  test('OpenSSH really lowercases the typed path, so the mixed-case test below means something', async () => {
    const r = await ssh(['-G', `unix${sock}`])
    expect(r.stdout).toContain(`hostname unix${sock.toLowerCase()}\n`)
  })

  test('ssh unix/PATH with a mixed-case path runs a command with fd passing', async () => {
    const r = await ssh([`unix${sock}`, 'echo', 'hello'])
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('hello\n')
    expect(r.code).toBe(0)
  })

  test('ssh unix%PATH works in pump mode (no ProxyUseFdpass)', async () => {
    const r = await ssh(['-o', 'ProxyUseFdpass=no', `unix%${sock}`, 'echo', 'pumped'])
    expect(r.stdout).toBe('pumped\n')
    expect(r.code).toBe(0)
  })

  test.each([['yes'], ['no']])(
    'the remote exit status comes through (ProxyUseFdpass %s)',
    async (fdpass) => {
      const r = await ssh(['-o', `ProxyUseFdpass=${fdpass}`, `unix%${sock}`, 'exit 7'])
      expect(r.code).toBe(7)
    },
  )

  test.each([['yes'], ['no']])(
    '8 MiB round-trip through cat is byte-exact (ProxyUseFdpass %s)',
    async (fdpass) => {
      const out = join(dir, `back-${fdpass}.bin`)
      const r = await run([
        'sh',
        '-c',
        `ssh -F ${cfg} -o ProxyUseFdpass=${fdpass} myvm cat < ${data} > ${out}`,
      ])
      expect(r.code).toBe(0)
      expect(await sha256File(out)).toBe(await sha256File(data))
    },
  )

  test.each([[[]], [['-O']]])('scp %p to and from an alias of a unix%% name', async (mode) => {
    const remote = join(dir, `scp${mode.length}.bin`)
    const back = `${remote}.back`
    expect((await run(['scp', '-q', '-F', cfg, ...mode, data, `myvm:${remote}`])).code).toBe(0)
    expect((await run(['scp', '-q', '-F', cfg, ...mode, `myvm:${remote}`, back])).code).toBe(0)
    expect(await sha256File(back)).toBe(await sha256File(data))
  })

  test('sftp batch: put, get, rename, mkdir, ls over unix%PATH', async () => {
    const batch = join(dir, 'batch')
    const remote = join(dir, 'sftp-remote')
    writeFileSync(
      batch,
      `mkdir ${remote}\nput ${data} ${remote}/a\nrename ${remote}/a ${remote}/b\nls ${remote}\nget ${remote}/b ${dir}/sftp-back\n`,
    )
    const r = await run(['sftp', '-F', cfg, '-b', batch, `unix%${sock}`])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`${remote}/b`)
    expect(await sha256File(join(dir, 'sftp-back'))).toBe(await sha256File(data))
  })

  test('rsync over the alias', async () => {
    const dest = join(dir, 'rsync-dest.bin')
    const r = await run(['rsync', '-e', `ssh -F ${cfg}`, data, `myvm:${dest}`])
    expect(r.code).toBe(0)
    expect(await sha256File(dest)).toBe(await sha256File(data))
  })

  test('-w ends an idle session like nc -w', async () => {
    const idle = ['-o', 'ProxyUseFdpass=no', '-o', `ProxyCommand=${BURROW} proxy -w 1 %h %p`]
    // what a session through this relay costs now, on this machine under its current load
    const baseline = await ssh([...idle, `unix%${sock}`, 'true'])
    expect(baseline.code).toBe(0)
    const r = await ssh([...idle, `unix%${sock}`, 'sleep 10; echo late'])
    console.log(
      `-w 1: session cut after ${r.ms.toFixed(0)} ms, baseline ${baseline.ms.toFixed(0)} ms`,
    )
    // cut before the command's end (no "late") by the relay going away (ssh's 255)
    expect(r.stdout).toBe('')
    expect(r.code).toBe(255)
    // and by the 1 s idle timer: within a few idle periods of the baseline, where a relay that
    // ignored -w would take the command's 10 s
    expect(r.ms - baseline.ms).toBeLessThan(5 * 1000)
  })

  test('with fd passing no burrow process stays around during the session', async () => {
    const proc = Bun.spawn(['ssh', '-F', cfg, `unix%${sock}`, 'sleep 2'], {
      stdout: 'ignore',
      stderr: 'ignore',
    })
    await Bun.sleep(1200)
    expect(burrowPids(proc.pid)).toEqual([])
    expect(await proc.exited).toBe(0)
  })

  test('killing ssh with SIGKILL leaves no burrow process behind (pump mode)', async () => {
    const proc = Bun.spawn(
      ['ssh', '-F', cfg, '-o', 'ProxyUseFdpass=no', `unix%${sock}`, 'sleep 30'],
      {
        stdin: 'pipe',
        stdout: 'ignore',
        stderr: 'ignore',
      },
    )
    let ours: number[] = []
    for (let i = 0; i < 50 && ours.length === 0; i++) {
      await Bun.sleep(100)
      ours = burrowPids(proc.pid)
    }
    expect(ours.length).toBe(1)
    proc.kill('SIGKILL')
    await proc.exited
    for (let i = 0; i < 30 && burrowPids().includes(ours[0]!); i++) await Bun.sleep(100)
    expect(burrowPids()).not.toContain(ours[0]!)
  })

  test('--pump relays when stdout is a socket that is not ssh (socat EXEC uses a socketpair)', async () => {
    const r = await run([
      'sh',
      '-c',
      `sleep 1 | socat -t 1 - EXEC:"${BURROW} proxy --pump unix%${sock} 22" | head -c 8`,
    ])
    expect(r.stdout).toBe('SSH-2.0-')
  })
})

describe('.host', () => {
  const hostSock = '/run/ssh-unix-local/socket'
  let local: TestSshd | undefined

  beforeAll(async () => {
    if (existsSync(hostSock))
      throw new Error(`${hostSock} exists already: this test needs it for its own sshd`)
    mkdirSync('/run/ssh-unix-local', { recursive: true })
    local = await startUnixSshd({ socketPath: hostSock })
  })
  afterAll(async () => {
    await local?.stop()
  })

  test('ssh .host reaches /run/ssh-unix-local/socket, and scp to .host:PATH works without an alias', async () => {
    const hostCfg = local!.sshConfig(
      `Include ${join(dir, 'root/etc/ssh/ssh_config.d/20-burrow.conf')}`,
    )
    const r = await run(['ssh', '-F', hostCfg, '.host', 'echo', 'local'])
    expect(r.stdout).toBe('local\n')
    const dest = join(dir, 'host-scp.bin')
    expect((await run(['scp', '-q', '-F', hostCfg, data, `.host:${dest}`])).code).toBe(0)
    expect(await sha256File(dest)).toBe(await sha256File(data))
  })
})

describe('TCP hosts (the netcat replacement)', () => {
  let tcp: TestSshd & { port: number }
  beforeAll(async () => {
    tcp = await startTcpSshd()
  })
  afterAll(async () => {
    await tcp?.stop()
  })

  test.each([['yes'], ['no']])(
    'ProxyCommand burrow proxy %%h %%p to a loopback sshd (ProxyUseFdpass %s)',
    async (fdpass) => {
      const c = tcp.sshConfig(
        `Host *\n    ProxyCommand ${BURROW} proxy %h %p\n    ProxyUseFdpass ${fdpass}`,
      )
      const r = await run(['ssh', '-F', c, '-p', String(tcp.port), '127.0.0.1', 'echo', 'tcp'])
      expect(r.stdout).toBe('tcp\n')
    },
  )

  test('as `ProxyCommand ssh gateway burrow proxy %h %p`: the gateway runs burrow in pump mode', async () => {
    const gateway = `ssh -F ${cfg} myvm ${BURROW} proxy %h %p`
    const c = tcp.sshConfig(`Host *\n    ProxyCommand ${gateway}`)
    const r = await run([
      'ssh',
      '-F',
      c,
      '-p',
      String(tcp.port),
      'localhost',
      'echo',
      'via-gateway',
    ])
    expect(r.stdout).toBe('via-gateway\n')
    expect(r.code).toBe(0)
  })
})
