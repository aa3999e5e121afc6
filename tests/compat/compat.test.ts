/**
 * Client compatibility: each real client against `burrow serve`, side by side with the same
 * container's own OpenSSH sshd as the control. A row passes when burrow's result equals the
 * control's, and the control's is the expected success (so two equal failures do not pass).
 * Prints the client × operation table at the end.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { incusAvailable } from '../../src/backends/incus/testing'
import type { Serve } from '../serve/support'
import { startServe } from '../serve/support'
import type { Target } from './support'
import { cmd, COMPAT, inside, prepareCompat, scratch, sha, sshOpts } from './support'

const PY = '/usr/bin/python3'
const CLIENTS_PY = join(import.meta.dir, 'clients.py')
const EXEC = 'echo out; echo err >&2; exit 3'
const EXEC_OK = 'code=3 out=out err=err'

let serve: Serve
let burrow: Target
let control: Target
const table: string[] = []

/** host key fingerprint for plink's -hostkey */
async function fingerprint(t: Target): Promise<string> {
  const scan = await cmd(['ssh-keyscan', '-t', 'ed25519', '-p', String(t.port), '127.0.0.1'])
  const fp = await cmd(['ssh-keygen', '-lf', '-'], { stdin: scan.stdout })
  return fp.stdout.split(' ')[1] ?? ''
}

const brief = (r: { code: number; stdout: string; stderr: string }) =>
  `code=${r.code} out=${r.stdout.trim()} err=${r.stderr.trim()}`

type Row = [client: string, op: string, expected: string | RegExp, run: (t: Target) => Promise<string>]

async function roundTrip(t: Target, put: (src: string, dst: string) => Promise<number>, get: (src: string, dst: string) => Promise<number>): Promise<string> {
  const s = scratch()
  try {
    const src = join(s.dir, 'up.bin')
    writeFileSync(src, Buffer.alloc(300_000, 'x').map((_, i) => (i * 7919) % 251))
    const remote = `/tmp/bsc-rt-${t.name}.bin`
    const up = await put(src, remote)
    const back = join(s.dir, 'down.bin')
    const down = await get(remote, back)
    await inside(`rm -f ${remote}`)
    return `up=${up} down=${down} same=${sha(src) === sha(back)}`
  } finally {
    s.done()
  }
}

const ROWS: Row[] = [
  ['OpenSSH ssh', 'exec: stdout, stderr, exit status', EXEC_OK, async (t) =>
    brief(await cmd(['ssh', '-p', String(t.port), ...sshOpts(t), '127.0.0.1', EXEC]))],
  ['OpenSSH ssh', 'stdin to a command', 'code=0 out=2 err=', async (t) =>
    brief(await cmd(['ssh', '-p', String(t.port), ...sshOpts(t), '127.0.0.1', 'wc -l'], { stdin: 'a\nb\n' }))],
  ['OpenSSH ssh', 'PTY (-tt)', 'code=0 out=tty xterm err=', async (t) =>
    brief(await cmd(['ssh', '-tt', '-o', 'SetEnv=TERM=xterm', '-p', String(t.port), ...sshOpts(t), '127.0.0.1', 'test -t 0 && echo tty $TERM'], { env: { TERM: 'xterm' } }))],
  ['OpenSSH ssh', '-W to a closed port', /open failed: connect failed: Connection refused/, async (t) => {
    const r = await cmd(['ssh', '-o', 'LogLevel=INFO', '-W', '127.0.0.1:1', '-p', String(t.port), ...sshOpts(t), '127.0.0.1'])
    return `code=${r.code} ${r.stderr.split('\n').filter((l) => l.includes('open failed')).join(' ').trim()}`
  }],
  ['OpenSSH ssh', '-L, half-close: printf ping | socat -t3 (8 tries)', 'replies=8/8', async (t) => {
    const l = 20000 + Math.floor(Math.random() * 20000)
    const fwd = Bun.spawn(['ssh', '-N', '-o', 'ExitOnForwardFailure=yes', '-L', `127.0.0.1:${l}:127.0.0.1:7301`, '-p', String(t.port), ...sshOpts(t), '127.0.0.1'], { stdout: 'ignore', stderr: 'ignore' })
    try {
      let ok = 0
      for (let i = 0; i < 50 && (await cmd(['socat', '-u', 'OPEN:/dev/null', `TCP:127.0.0.1:${l}`])).code !== 0; i++) await Bun.sleep(100)
      for (let i = 0; i < 8; i++) {
        const r = await cmd(['sh', '-c', `printf 'ping\\n' | socat -t3 - TCP:127.0.0.1:${l}`])
        if (r.stdout === 'ping\npong\n') ok++
      }
      return `replies=${ok}/8`
    } finally {
      fwd.kill()
    }
  }],
  ['OpenSSH ssh', '-L, the server half-closes first, the client line still arrives', 'greet=greet arrived=true', async (t) => {
    const l = 20000 + Math.floor(Math.random() * 20000)
    const fwd = Bun.spawn(['ssh', '-N', '-o', 'ExitOnForwardFailure=yes', '-L', `127.0.0.1:${l}:127.0.0.1:7302`, '-p', String(t.port), ...sshOpts(t), '127.0.0.1'], { stdout: 'ignore', stderr: 'ignore' })
    try {
      for (let i = 0; i < 50 && (await cmd(['socat', '-u', 'OPEN:/dev/null', `TCP:127.0.0.1:${l}`])).code !== 0; i++) await Bun.sleep(100)
      const line = `late-${t.name}-${l}`
      const r = await cmd(['sh', '-c', `(sleep 0.5; echo ${line}) | socat -t3 - TCP:127.0.0.1:${l}`])
      await Bun.sleep(200)
      const arrived = (await inside('cat /tmp/bsc-greet.out')).stdout.includes(line)
      return `greet=${r.stdout.trim()} arrived=${arrived}`
    } finally {
      fwd.kill()
    }
  }],
  ['OpenSSH ssh', '-R, half-close: printf ping | socat -t3 inside (8 tries)', 'replies=8/8', async (t) => {
    // on this host: echo what arrives, answer after EOF
    const srv = net.createServer({ allowHalfOpen: true }, (c) => {
      c.on('error', () => {})
      c.pipe(c, { end: false })
      c.on('end', () => c.end('pong\n'))
    })
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
    const hp = (srv.address() as net.AddressInfo).port
    const rp = 7400 + Math.floor(Math.random() * 500) * 2 + (t.name === 'sshd' ? 0 : 1)
    const fwd = Bun.spawn(['ssh', '-N', '-o', 'ExitOnForwardFailure=yes', '-R', `127.0.0.1:${rp}:127.0.0.1:${hp}`, '-p', String(t.port), ...sshOpts(t), '127.0.0.1'], { stdout: 'ignore', stderr: 'ignore' })
    try {
      for (let i = 0; i < 50 && (await inside(`socat -u OPEN:/dev/null TCP:127.0.0.1:${rp}`)).code !== 0; i++) await Bun.sleep(100)
      let ok = 0
      for (let i = 0; i < 8; i++) {
        const r = await inside(`printf 'ping\\n' | socat -t3 - TCP:127.0.0.1:${rp}`)
        if (r.stdout === 'ping\npong\n') ok++
      }
      return `replies=${ok}/8`
    } finally {
      fwd.kill()
      srv.close()
    }
  }],
  ['OpenSSH ssh', '-L to a missing unix socket', 'open failed: connect failed: open failed', async (t) => {
    const s = scratch()
    try {
      const sock = join(s.dir, 's')
      const fwd = Bun.spawn(['ssh', '-N', '-o', 'LogLevel=INFO', '-L', `${sock}:/tmp/bsc-missing.sock`, '-p', String(t.port), ...sshOpts(t), '127.0.0.1'], { stdout: 'ignore', stderr: 'pipe' })
      for (let i = 0; i < 50 && !existsSync(sock); i++) await Bun.sleep(100)
      await cmd(['socat', '-u', 'OPEN:/dev/null', `UNIX-CONNECT:${sock}`])
      await Bun.sleep(300)
      fwd.kill()
      const err = await new Response(fwd.stderr).text()
      return err.split('\n').filter((l) => l.includes('open failed')).join(' ').replace(/channel \d+: /, '').trim()
    } finally {
      s.done()
    }
  }],
  ['OpenSSH ssh', 'PTY session killed: daemon (setsid nohup) lives, foreground ends', 'daemon=1 foreground=0', async (t) => {
    const [d, f] = t.name === 'sshd' ? [391, 392] : [393, 394]
    const p = Bun.spawn(['ssh', '-tt', '-p', String(t.port), ...sshOpts(t), '127.0.0.1', `setsid nohup sleep ${d} >/dev/null 2>&1 & sleep ${f}`], { stdin: 'pipe', stdout: 'ignore', stderr: 'ignore' })
    const count = async (n: number) => Number((await inside(`pgrep -fc "^sleep ${n}$" || true`)).stdout.trim())
    for (let i = 0; i < 50 && !(await count(f)); i++) await Bun.sleep(100)
    p.kill('SIGKILL')
    for (let i = 0; i < 30 && (await count(f)); i++) await Bun.sleep(100)
    const r = `daemon=${await count(d)} foreground=${await count(f)}`
    await inside(`pkill -f "^sleep (${d}|${f})$"; true`)
    return r
  }],
  ['OpenSSH scp', 'upload and download (SFTP mode)', 'up=0 down=0 same=true', (t) =>
    roundTrip(t,
      async (src, dst) => (await cmd(['scp', '-P', String(t.port), ...sshOpts(t), src, `127.0.0.1:${dst}`])).code,
      async (src, dst) => (await cmd(['scp', '-P', String(t.port), ...sshOpts(t), `127.0.0.1:${src}`, dst])).code)],
  ['OpenSSH scp', 'upload and download (-O, legacy scp)', 'up=0 down=0 same=true', (t) =>
    roundTrip(t,
      async (src, dst) => (await cmd(['scp', '-O', '-P', String(t.port), ...sshOpts(t), src, `127.0.0.1:${dst}`])).code,
      async (src, dst) => (await cmd(['scp', '-O', '-P', String(t.port), ...sshOpts(t), `127.0.0.1:${src}`, dst])).code)],
  ['OpenSSH sftp', 'put, ln -s, get through the link', 'code=0 data=sftp-data', async (t) => {
    const s = scratch()
    try {
      writeFileSync(join(s.dir, 'f'), 'sftp-data\n')
      const p = `/tmp/bsc-sftp-${t.name}`
      const batch = `-rm ${p}.lnk\nput f ${p}\nln -s ${p} ${p}.lnk\nget ${p}.lnk g\nrm ${p}.lnk\nrm ${p}\n`
      const r = await cmd(['sftp', '-b', '-', '-P', String(t.port), ...sshOpts(t), '127.0.0.1'], { stdin: batch, cwd: s.dir })
      const got = r.code === 0 ? readFileSync(join(s.dir, 'g'), 'utf8').trim() : ''
      return `code=${r.code} data=${got}`
    } finally {
      s.done()
    }
  }],
  ['rsync', '-a a tree there and back', 'up=0 down=0 same=3 files', async (t) => {
    const s = scratch()
    try {
      const src = join(s.dir, 'src')
      mkdirSync(join(src, 'sub'), { recursive: true })
      for (const f of ['a', 'b', 'sub/c']) writeFileSync(join(src, f), `${f}\n`.repeat(1000))
      const e = ['-e', ['ssh', '-p', String(t.port), ...sshOpts(t)].join(' ')]
      const remote = `127.0.0.1:/tmp/bsc-rsync-${t.name}/`
      const up = (await cmd(['rsync', '-a', '--delete', ...e, `${src}/`, remote])).code
      const down = (await cmd(['rsync', '-a', ...e, remote, join(s.dir, 'back/')])).code
      const same = ['a', 'b', 'sub/c'].filter((f) => sha(join(src, f)) === sha(join(s.dir, 'back', f))).length
      return `up=${up} down=${down} same=${same} files`
    } finally {
      s.done()
    }
  }],
  ['git', 'push to a bare repository, clone it back', 'push=0 clone=0 log=compat commit', async (t) => {
    const s = scratch()
    try {
      const repo = `/tmp/bsc-git-${t.name}.git`
      await inside(`rm -rf ${repo} && git init -q --bare -b main ${repo}`)
      const env = {
        GIT_SSH_COMMAND: ['ssh', ...sshOpts(t)].join(' '),
        GIT_AUTHOR_NAME: 'c', GIT_AUTHOR_EMAIL: 'c@x', GIT_COMMITTER_NAME: 'c', GIT_COMMITTER_EMAIL: 'c@x',
      }
      const url = `ssh://127.0.0.1:${t.port}${repo}`
      const w = join(s.dir, 'w')
      await cmd(['git', 'init', '-q', '-b', 'main', w])
      writeFileSync(join(w, 'f'), 'x\n')
      await cmd(['git', '-C', w, 'add', 'f'], { env })
      await cmd(['git', '-C', w, 'commit', '-qm', 'compat commit'], { env })
      const push = (await cmd(['git', '-C', w, 'push', '-q', url, 'main'], { env })).code
      const clone = (await cmd(['git', 'clone', '-q', url, join(s.dir, 'c')], { env })).code
      const log = (await cmd(['git', '-C', join(s.dir, 'c'), 'log', '--format=%s'])).stdout.trim()
      return `push=${push} clone=${clone} log=${log}`
    } finally {
      s.done()
    }
  }],
  ['sshfs', 'mount, write, read back, unmount', 'mount=0 read=sshfs-data umount=0', async (t) => {
    const s = scratch()
    try {
      const mnt = join(s.dir, 'mnt')
      mkdirSync(mnt)
      // sshfs passes on only the ssh options it knows: the rest through its ssh command
      const ssh = ['ssh', ...sshOpts(t)].join(' ')
      const m = await cmd(['sshfs', '-p', String(t.port), `${t.user}@127.0.0.1:/tmp`, mnt, '-o', `ssh_command=${ssh}`])
      if (m.code !== 0) return `mount=${m.code}`
      writeFileSync(join(mnt, `bsc-sshfs-${t.name}`), 'sshfs-data\n')
      const read = (await inside(`cat /tmp/bsc-sshfs-${t.name}; rm -f /tmp/bsc-sshfs-${t.name}`)).stdout.trim()
      const u = await cmd(['fusermount', '-u', mnt])
      return `mount=${m.code} read=${read} umount=${u.code}`
    } finally {
      s.done()
    }
  }],
  ['PuTTY plink', 'exec: stdout, stderr, exit status', EXEC_OK, async (t) =>
    brief(await cmd(['plink', '-batch', '-ssh', '-P', String(t.port), '-i', `${t.key}.ppk`, '-hostkey', await fingerprint(t), `${t.user}@127.0.0.1`, EXEC]))],
  ['PuTTY pscp', 'upload and download', 'up=0 down=0 same=true', async (t) => {
    const base = ['pscp', '-batch', '-q', '-P', String(t.port), '-i', `${t.key}.ppk`, '-hostkey', await fingerprint(t)]
    return roundTrip(t,
      async (src, dst) => (await cmd([...base, src, `${t.user}@127.0.0.1:${dst}`])).code,
      async (src, dst) => (await cmd([...base, `${t.user}@127.0.0.1:${src}`, dst])).code)
  }],
  ['PuTTY psftp', 'batch put and get', 'code=0 data=psftp-data', async (t) => {
    const s = scratch()
    try {
      writeFileSync(join(s.dir, 'f'), 'psftp-data\n')
      writeFileSync(join(s.dir, 'b'), `put f /tmp/bsc-psftp-${t.name}\nget /tmp/bsc-psftp-${t.name} g\nrm /tmp/bsc-psftp-${t.name}\n`)
      const r = await cmd(['psftp', '-batch', '-P', String(t.port), '-i', `${t.key}.ppk`, '-hostkey', await fingerprint(t), '-b', join(s.dir, 'b'), `${t.user}@127.0.0.1`], { cwd: s.dir })
      const got = r.code === 0 ? readFileSync(join(s.dir, 'g'), 'utf8').trim() : ''
      return `code=${r.code} data=${got}`
    } finally {
      s.done()
    }
  }],
  ['Dropbear dbclient', 'exec: stdout, stderr, exit status', EXEC_OK, async (t) => {
    const r = await cmd(['dbclient', '-y', '-y', '-i', `${t.key}.db`, '-p', String(t.port), `${t.user}@127.0.0.1`, EXEC])
    // -y -y: dbclient's own notice about the host key
    const stderr = r.stderr.split(/\r?\n/).filter((l) => l && !l.includes('skipping hostkey check')).join('\n')
    return brief({ ...r, stderr })
  }],
  ['curl (libssh2)', 'sftp:// upload and download', 'up=0 down=0 same=true', async (t) => {
    const base = ['curl', '-sS', '-k', '--key', t.key, '--pubkey', `${t.key}.pub`, '-u', `${t.user}:`]
    return roundTrip(t,
      async (src, dst) => (await cmd([...base, '-T', src, `sftp://127.0.0.1:${t.port}${dst}`])).code,
      async (src, dst) => (await cmd([...base, '-o', dst, `sftp://127.0.0.1:${t.port}${src}`])).code)
  }],
  ['lftp', 'sftp:// put and get', 'up=0 down=0 same=true', async (t) => {
    const prog = ['ssh', '-a', '-x', ...sshOpts(t)].join(' ')
    const lftp = (script: string) =>
      cmd(['lftp', '-c', `set sftp:connect-program "${prog}"; set net:max-retries 1; open -u ${t.user}, -p ${t.port} sftp://127.0.0.1; ${script}`])
    return roundTrip(t,
      async (src, dst) => (await lftp(`put ${src} -o ${dst}`)).code,
      async (src, dst) => (await lftp(`get ${src} -o ${dst}`)).code)
  }],
  ...(['paramiko', 'asyncssh'] as const).flatMap((client): Row[] => [
    [client, 'exec: stdout, stderr, exit status', EXEC_OK, (t) => py(client, 'exec', t)],
    [client, 'SFTP write and read', `data=${client}-data`, (t) => py(client, 'sftp', t)],
    [client, 'SFTP symlink, readlink', 'readlink=/etc/hostname', (t) => py(client, 'symlink', t)],
  ]),
  ['asyncssh', 'session across rekeys (rekey_seconds=1)', 'echoed=line0,line1,line2 code=0', (t) => py('asyncssh', 'rekey', t)],
  ['ansible-core', 'ping', 'SUCCESS pong', async (t) => {
    const r = await ansible(t, ['-m', 'ping'])
    return r.stdout.includes('"ping": "pong"') ? `${r.stdout.includes('SUCCESS') ? 'SUCCESS' : 'FAILED'} pong` : brief(r)
  }],
  ['ansible-core', 'command', 'CHANGED | rc=0 >> hello', async (t) => {
    const r = await ansible(t, ['-m', 'command', '-a', 'echo hello'])
    return r.stdout.replace(/^\S+ \| /, '').replace(/\s+/g, ' ').trim()
  }],
  ['ansible-core', 'copy', 'changed=true content=ansible-data', async (t) => {
    const s = scratch()
    try {
      writeFileSync(join(s.dir, 'f'), 'ansible-data\n')
      const dest = `/tmp/bsc-ansible-${t.name}`
      await inside(`rm -f ${dest}`)
      const r = await ansible(t, ['-m', 'copy', '-a', `src=${join(s.dir, 'f')} dest=${dest}`])
      const content = (await inside(`cat ${dest}`)).stdout.trim()
      return `changed=${r.stdout.includes('"changed": true')} content=${content}`
    } finally {
      s.done()
    }
  }],
  ['ansible-core', 'setup (facts)', 'distribution=Debian user=root', async (t) => {
    const r = await ansible(t, ['-m', 'setup', '-a', 'gather_subset=min'])
    const dist = /"ansible_distribution": "([^"]*)"/.exec(r.stdout)?.[1]
    const user = /"ansible_user_id": "([^"]*)"/.exec(r.stdout)?.[1]
    return dist ? `distribution=${dist} user=${user}` : brief(r)
  }],
]

async function py(client: string, op: string, t: Target): Promise<string> {
  const r = await cmd([PY, CLIENTS_PY, client, op, String(t.port), t.user, t.key])
  return r.stdout.trim() || brief(r)
}

function ansible(t: Target, args: string[]) {
  return cmd(
    ['ansible', 'all', '-i', '127.0.0.1,', '-u', t.user, '--private-key', t.key, '-e', `ansible_port=${t.port}`, ...args],
    {
      env: {
        ANSIBLE_HOST_KEY_CHECKING: 'False',
        ANSIBLE_SSH_ARGS: '-F /dev/null -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile=/dev/null',
        ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_LOCAL_TEMP: '/tmp/bsc-ansible-local',
      },
    },
  )
}

describe.skipIf(!incusAvailable())('client compatibility: burrow serve beside the container\'s sshd', () => {
  beforeAll(async () => {
    serve = await startServe(['--max-startups', '100'], { keysFor: ['root'] })
    const pub = readFileSync(`${serve.key}.pub`, 'utf8')
    const { controlPort } = await prepareCompat(pub)
    await cmd(['puttygen', serve.key, '-O', 'private', '-o', `${serve.key}.ppk`])
    await cmd(['dropbearconvert', 'openssh', 'dropbear', serve.key, `${serve.key}.db`])
    burrow = { name: 'burrow', port: serve.port, user: COMPAT, key: serve.key }
    control = { name: 'sshd', port: controlPort, user: 'root', key: serve.key }
  })
  afterAll(async () => {
    await serve?.stop()
    console.error(['| client | operation | burrow serve | sshd (control) |', '|---|---|---|---|', ...table].join('\n'))
  })

  test.each(ROWS)('%s: %s', async (client, op, expected, run) => {
    const [b, c] = await Promise.all([run(burrow), run(control)])
    const cell = (x: string) => x.replaceAll("|", "\\|").replaceAll("\n", " ")
    table.push(`| ${client} | ${cell(op)} | ${b === c ? "same" : cell(b)} | ${cell(c)} |`)
    if (typeof expected === 'string') expect(c).toBe(expected)
    else expect(c).toMatch(expected)
    expect(b).toBe(c)
  })
})
