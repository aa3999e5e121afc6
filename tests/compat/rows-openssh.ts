/** Compatibility rows for the OpenSSH client tools and for forwarding (tests/compat). */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import type { Row, Target } from './support'
import { brief, cmd, inScratch, inside, roundTrip, sha, sshArgv, sshOpts } from './support'
import { waitFor, whileRunning } from './support'
import { listenPort } from '../support/ports'

export const EXEC = 'echo out; echo err >&2; exit 3'
export const EXEC_OK = 'code=3 out=out err=err'

const port = listenPort
const ssh = (t: Target, extra: string[] = [], command?: string, stdin?: string) =>
  cmd(sshArgv(t, extra, command), { stdin })
/** ssh -N with forwards that must be in place before it counts as started */
const forward = (t: Target, ...spec: string[]) =>
  sshArgv(t, ['-N', '-o', 'ExitOnForwardFailure=yes', ...spec])
const openFailed = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.includes('open failed'))
    .join(' ')
    .replace(/channel \d+: /, '')
    .trim()
/** something accepts connections at `addr` (a socat address), on this host or inside */
const answers = (addr: string) => async () =>
  (await cmd(['socat', '-u', 'OPEN:/dev/null', addr])).code === 0
const answersInside = (addr: string) => async () =>
  (await inside(`socat -u OPEN:/dev/null ${addr}`)).code === 0

/** `printf ping | socat -t3` 8 times; the peer echoes and answers "pong" after EOF */
async function pings(run: (script: string) => Promise<{ stdout: string }>, addr: string) {
  let ok = 0
  for (let i = 0; i < 8; i++)
    if ((await run(`printf 'ping\\n' | socat -t3 - ${addr}`)).stdout === 'ping\npong\n') ok++
  return `replies=${ok}/8`
}

/** On this host: echoes what arrives and answers "pong" after the EOF. */
async function pongServer(): Promise<net.Server> {
  const srv = net.createServer({ allowHalfOpen: true }, (c) => {
    c.on('error', () => {})
    c.pipe(c, { end: false })
    c.on('end', () => c.end('pong\n'))
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  return srv
}

export const OPENSSH_ROWS: Row[] = [
  [
    'OpenSSH ssh',
    'exec: stdout, stderr, exit status',
    EXEC_OK,
    async (t) => brief(await ssh(t, [], EXEC)),
  ],
  [
    'OpenSSH ssh',
    'stdin to a command',
    'code=0 out=2 err=',
    async (t) => brief(await ssh(t, [], 'wc -l', 'a\nb\n')),
  ],
  [
    'OpenSSH ssh',
    'PTY (-tt)',
    'code=0 out=tty xterm err=',
    async (t) =>
      brief(await ssh(t, ['-tt', '-o', 'SetEnv=TERM=xterm'], 'test -t 0 && echo tty $TERM')),
  ],
  [
    'OpenSSH ssh',
    '-W to a closed port',
    'code=255 open failed: connect failed: Connection refused',
    async (t) => {
      const r = await ssh(t, ['-o', 'LogLevel=INFO', '-W', '127.0.0.1:1'])
      return `code=${r.code} ${openFailed(r.stderr)}`
    },
  ],
  [
    'OpenSSH ssh',
    '-L, half-close: printf ping | socat -t3 (8 tries)',
    'replies=8/8',
    (t) => {
      const l = port()
      return whileRunning(forward(t, '-L', `127.0.0.1:${l}:127.0.0.1:7301`), async () => {
        await waitFor(answers(`TCP:127.0.0.1:${l}`))
        return pings((script) => cmd(['sh', '-c', script]), `TCP:127.0.0.1:${l}`)
      })
    },
  ],
  [
    'OpenSSH ssh',
    '-L, the server half-closes first, the client line still arrives',
    'greet=greet arrived=true',
    (t) => {
      const l = port()
      return whileRunning(forward(t, '-L', `127.0.0.1:${l}:127.0.0.1:7302`), async () => {
        await waitFor(answers(`TCP:127.0.0.1:${l}`))
        const line = `late-${t.name}-${l}`
        const r = await cmd([
          'sh',
          '-c',
          `(sleep 0.5; echo ${line}) | socat -t3 - TCP:127.0.0.1:${l}`,
        ])
        await Bun.sleep(200)
        const arrived = (await inside('cat /tmp/bsc-greet.out')).stdout.includes(line)
        return `greet=${r.stdout.trim()} arrived=${arrived}`
      })
    },
  ],
  [
    'OpenSSH ssh',
    '-R, half-close: printf ping | socat -t3 inside (8 tries)',
    'replies=8/8',
    async (t) => {
      const srv = await pongServer()
      const hp = (srv.address() as net.AddressInfo).port
      const rp = 7400 + Math.floor(Math.random() * 500) * 2 + (t.name === 'sshd' ? 0 : 1)
      try {
        return await whileRunning(forward(t, '-R', `127.0.0.1:${rp}:127.0.0.1:${hp}`), async () => {
          await waitFor(answersInside(`TCP:127.0.0.1:${rp}`))
          return pings(inside, `TCP:127.0.0.1:${rp}`)
        })
      } finally {
        srv.close()
      }
    },
  ],
  [
    'OpenSSH ssh',
    '-L to a missing unix socket',
    'open failed: connect failed: open failed',
    (t) =>
      inScratch(async (dir) => {
        const sock = join(dir, 's')
        const argv = sshArgv(t, [
          '-N',
          '-o',
          'LogLevel=INFO',
          '-L',
          `${sock}:/tmp/bsc-missing.sock`,
        ])
        const fwd = Bun.spawn(argv, { stdout: 'ignore', stderr: 'pipe' })
        await waitFor(() => existsSync(sock))
        await cmd(['socat', '-u', 'OPEN:/dev/null', `UNIX-CONNECT:${sock}`])
        await Bun.sleep(300)
        fwd.kill()
        return openFailed(await new Response(fwd.stderr).text())
      }),
  ],
  [
    'OpenSSH ssh',
    'PTY session killed: daemon (setsid nohup) lives, foreground ends',
    'daemon=1 foreground=0',
    async (t) => {
      const [d, f] = t.name === 'sshd' ? [391, 392] : [393, 394]
      const script = `setsid nohup sleep ${d} >/dev/null 2>&1 & sleep ${f}`
      const p = Bun.spawn(sshArgv(t, ['-tt'], script), { stdin: 'pipe', stdout: 'ignore' })
      const count = async (n: number) =>
        Number((await inside(`pgrep -fc "^sleep ${n}$" || true`)).stdout.trim())
      await waitFor(async () => (await count(f)) > 0)
      p.kill('SIGKILL')
      await waitFor(async () => (await count(f)) === 0, 30)
      const r = `daemon=${await count(d)} foreground=${await count(f)}`
      await inside(`pkill -f "^sleep (${d}|${f})$"; true`)
      return r
    },
  ],
  ...[[], ['-O']].map(
    (mode): Row => [
      'OpenSSH scp',
      `upload and download (${mode.length ? '-O, legacy scp' : 'SFTP mode'})`,
      'up=0 down=0 same=true',
      (t) => {
        const scp = (from: string, to: string) =>
          cmd(['scp', ...mode, '-P', String(t.port), ...sshOpts(t), from, to])
        const remote = (path: string) => `127.0.0.1:${path}`
        return roundTrip(
          t,
          (src, dst) => scp(src, remote(dst)),
          (src, dst) => scp(remote(src), dst),
        )
      },
    ],
  ),
  [
    'OpenSSH sftp',
    'put, ln -s, get through the link',
    'code=0 data=sftp-data',
    (t) =>
      inScratch(async (dir) => {
        writeFileSync(join(dir, 'f'), 'sftp-data\n')
        const p = `/tmp/bsc-sftp-${t.name}`
        const batch = `-rm ${p}.lnk\nput f ${p}\nln -s ${p} ${p}.lnk\nget ${p}.lnk g\nrm ${p}.lnk\nrm ${p}\n`
        const argv = ['sftp', '-b', '-', '-P', String(t.port), ...sshOpts(t), '127.0.0.1']
        const r = await cmd(argv, { stdin: batch, cwd: dir })
        const got = r.code === 0 ? readFileSync(join(dir, 'g'), 'utf8').trim() : ''
        return `code=${r.code} data=${got}`
      }),
  ],
  [
    'rsync',
    '-a a tree there and back',
    'up=0 down=0 same=3 files',
    (t) =>
      inScratch(async (dir) => {
        const files = ['a', 'b', 'sub/c']
        mkdirSync(join(dir, 'src/sub'), { recursive: true })
        for (const f of files) writeFileSync(join(dir, 'src', f), `${f}\n`.repeat(1000))
        const e = ['-e', ['ssh', '-p', String(t.port), ...sshOpts(t)].join(' ')]
        const remote = `127.0.0.1:/tmp/bsc-rsync-${t.name}/`
        const up = (await cmd(['rsync', '-a', '--delete', ...e, `${dir}/src/`, remote])).code
        const down = (await cmd(['rsync', '-a', ...e, remote, join(dir, 'back/')])).code
        const same = files.filter((f) => sha(join(dir, 'src', f)) === sha(join(dir, 'back', f)))
        return `up=${up} down=${down} same=${same.length} files`
      }),
  ],
  [
    'git',
    'push to a bare repository, clone it back',
    'push=0 clone=0 log=compat commit',
    (t) =>
      inScratch(async (dir) => {
        const repo = `/tmp/bsc-git-${t.name}.git`
        await inside(`rm -rf ${repo} && git init -q --bare -b main ${repo}`)
        const env = {
          GIT_SSH_COMMAND: ['ssh', ...sshOpts(t)].join(' '),
          GIT_AUTHOR_NAME: 'c',
          GIT_AUTHOR_EMAIL: 'c@x',
          GIT_COMMITTER_NAME: 'c',
          GIT_COMMITTER_EMAIL: 'c@x',
        }
        const url = `ssh://127.0.0.1:${t.port}${repo}`
        const git = (...args: string[]) => cmd(['git', ...args], { env })
        const w = join(dir, 'w')
        await git('init', '-q', '-b', 'main', w)
        writeFileSync(join(w, 'f'), 'x\n')
        await git('-C', w, 'add', 'f')
        await git('-C', w, 'commit', '-qm', 'compat commit')
        const push = (await git('-C', w, 'push', '-q', url, 'main')).code
        const clone = (await git('clone', '-q', url, join(dir, 'c'))).code
        const log = (await git('-C', join(dir, 'c'), 'log', '--format=%s')).stdout.trim()
        return `push=${push} clone=${clone} log=${log}`
      }),
  ],
  [
    'sshfs',
    'mount, write, read back, unmount',
    'mount=0 read=sshfs-data umount=0',
    (t) =>
      inScratch(async (dir) => {
        const mnt = join(dir, 'mnt')
        mkdirSync(mnt)
        // sshfs passes on only the ssh options it knows: the rest through its ssh command
        const sshCommand = `ssh_command=${['ssh', ...sshOpts(t)].join(' ')}`
        const remote = `${t.user}@127.0.0.1:/tmp`
        const m = await cmd(['sshfs', '-p', String(t.port), remote, mnt, '-o', sshCommand])
        if (m.code !== 0) return `mount=${m.code}`
        const file = `bsc-sshfs-${t.name}`
        writeFileSync(join(mnt, file), 'sshfs-data\n')
        const read = (await inside(`cat /tmp/${file}; rm -f /tmp/${file}`)).stdout.trim()
        const u = await cmd(['fusermount', '-u', mnt])
        return `mount=${m.code} read=${read} umount=${u.code}`
      }),
  ],
]
