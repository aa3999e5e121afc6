// Throwaway OpenSSH servers for tests (tests run as root; scripts/provision
// installs openssh-server + socat and creates /run/sshd).
//
// startUnixSshd(): an AF_UNIX socket served by socat, which runs a fresh
//   `sshd -i` (inetd mode) per connection.
// startTcpSshd(): a normal `sshd -D` on a free 127.0.0.1 port.
//
// Both generate their own ed25519 host and client keys in a short temp dir
// under /tmp and never touch /etc/ssh or ~/.ssh.

import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  openSync,
  closeSync,
  existsSync,
} from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'

export interface TestSshd {
  /** temp dir holding keys, configs, socket and sshd.log */
  dir: string
  /** AF_UNIX socket path (unix variant only; '' for the TCP variant) */
  socketPath: string
  /** client private key path (its .pub is in authorized_keys) */
  clientKey: string
  /** host public key line, e.g. 'ssh-ed25519 AAAA...' (file: hostPubKeyPath) */
  hostPubKey: string
  hostPubKeyPath: string
  /** stderr of socat / sshd (sshd runs with -e) */
  logFile: string
  /** pid of the socat / sshd listener (its own process group) */
  pid: number
  /** write an ssh client config for `ssh -F` and return its path */
  sshConfig(extra?: string): string
  /** kill the listener and everything it spawned, remove the temp dir */
  stop(): Promise<void>
}

/**
 * Additive options for tests that chain servers (e.g. `burrow route`): one client key accepted by
 * several sshds, extra sshd_config lines (ForceCommand, Match blocks), more listening ports.
 */
export interface SshdOptions {
  /** public key lines (or .pub file contents) accepted in addition to the server's own client key */
  authorizedKeys?: string[]
  /** lines appended to sshd_config (after the defaults, so Match blocks work) */
  sshdConfig?: string[]
  /** TCP only: this many more free loopback ports to listen on besides `port` (see `ports`) */
  extraPorts?: number
}

const SSHD = '/usr/sbin/sshd'
const SFTP_SERVER = '/usr/lib/openssh/sftp-server'
const READY_TIMEOUT_MS = 10_000

export async function startUnixSshd(
  opts: { socketPath?: string } & SshdOptions = {},
): Promise<TestSshd> {
  const base = await prepare(opts)
  const socketPath = opts.socketPath ?? join(base.dir, 's')
  // socat splits the EXEC string on spaces itself; no shell is involved.
  const exec = `EXEC:${SSHD} -i -e -f ${base.config}`
  const server = launch(base, ['socat', `UNIX-LISTEN:${socketPath},fork,unlink-early`, exec])
  if (opts.socketPath) {
    // a socket outside the temp dir: SIGKILLed socat cannot unlink it itself
    const stopServer = server.stop
    server.stop = async (o) => {
      await stopServer(o)
      rmSync(socketPath, { force: true })
    }
  }
  try {
    await waitReady(server, () => ({ path: socketPath }))
  } catch (e) {
    await server.stop()
    throw e
  }
  return { ...server.handle, socketPath }
}

export async function startTcpSshd(
  opts: SshdOptions = {},
): Promise<TestSshd & { port: number; ports: number[] }> {
  const base = await prepare(opts)
  let lastError: unknown
  // The free-port probe is inherently racy; retry with a new port if sshd
  // could not bind.
  for (let attempt = 0; attempt < 5; attempt++) {
    const ports: number[] = []
    while (ports.length < 1 + (opts.extraPorts ?? 0)) {
      const p = await freeLoopbackPort()
      if (!ports.includes(p)) ports.push(p)
    }
    const port = ports[0]!
    const listen = ports.flatMap((p) => ['-o', `ListenAddress=127.0.0.1:${p}`])
    const server = launch(base, [
      SSHD,
      '-D',
      '-e',
      '-f',
      base.config,
      '-p',
      String(port),
      ...listen,
    ])
    try {
      for (const p of ports) await waitReady(server, () => ({ host: '127.0.0.1', port: p }))
      return { ...server.handle, socketPath: '', port, ports }
    } catch (e) {
      lastError = e
      await server.stop({ keepDir: true })
    }
  }
  rmSync(base.dir, { recursive: true, force: true })
  throw lastError
}

// ---------------------------------------------------------------------------

interface Base {
  dir: string
  config: string
  clientKey: string
  hostPubKey: string
  hostPubKeyPath: string
  logFile: string
}

async function prepare(opts: SshdOptions = {}): Promise<Base> {
  // short: socket paths must stay below sun_path's 108 bytes
  const dir = mkdtempSync('/tmp/bs-')
  try {
    const hostKey = join(dir, 'host_ed25519')
    const clientKey = join(dir, 'id_ed25519')
    await Promise.all([
      keygen(hostKey, 'burrow-test-host'),
      keygen(clientKey, 'burrow-test-client'),
    ])
    const authorizedKeys = join(dir, 'authorized_keys')
    const extraKeys = (opts.authorizedKeys ?? []).map((k) => `${k.trim()}\n`).join('')
    writeFileSync(authorizedKeys, `${readFileSync(`${clientKey}.pub`, 'utf8')}${extraKeys}`, {
      mode: 0o600,
    })
    const config = join(dir, 'sshd_config')
    writeFileSync(
      config,
      [
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        'UsePAM no',
        'StrictModes no',
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        `Subsystem sftp ${SFTP_SERVER}`,
        'AcceptEnv LANG LC_*',
        'PidFile none',
        'LogLevel ERROR',
        ...(opts.sshdConfig ?? []),
        '',
      ].join('\n'),
      { mode: 0o600 },
    )
    const hostPubKeyPath = `${hostKey}.pub`
    return {
      dir,
      config,
      clientKey,
      hostPubKey: readFileSync(hostPubKeyPath, 'utf8').trim(),
      hostPubKeyPath,
      logFile: join(dir, 'sshd.log'),
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
}

async function keygen(path: string, comment: string): Promise<void> {
  const p = Bun.spawn(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  })
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()])
  if (code !== 0) throw new Error(`ssh-keygen -f ${path} failed (${code}): ${err.trim()}`)
}

interface Server {
  proc: Bun.Subprocess
  base: Base
  exitCode: number | null
  handle: Omit<TestSshd, 'socketPath'>
  stop(opts?: { keepDir?: boolean }): Promise<void>
}

const live = new Set<Server>()
let exitHookInstalled = false

function launch(base: Base, cmd: string[]): Server {
  const logFd = openSync(base.logFile, 'a')
  let proc: Bun.Subprocess
  try {
    // detached: setsid(), so the listener leads its own process group and
    // stop() can signal the whole group in one go.
    proc = Bun.spawn(cmd, { detached: true, stdin: 'ignore', stdout: logFd, stderr: logFd })
  } finally {
    closeSync(logFd)
  }
  let configCount = 0
  let stopped: Promise<void> | undefined
  const server: Server = {
    proc,
    base,
    exitCode: null,
    handle: undefined as never,
    stop(opts = {}) {
      stopped ??= (async () => {
        live.delete(server)
        await killTree(proc.pid)
        await proc.exited
        if (!opts.keepDir) rmSync(base.dir, { recursive: true, force: true })
      })()
      return stopped
    },
  }
  proc.exited.then((code) => {
    server.exitCode = code
  })
  server.handle = {
    dir: base.dir,
    clientKey: base.clientKey,
    hostPubKey: base.hostPubKey,
    hostPubKeyPath: base.hostPubKeyPath,
    logFile: base.logFile,
    pid: proc.pid,
    sshConfig(extra = '') {
      const path = join(base.dir, `ssh_config.${++configCount}`)
      // `extra` goes FIRST: ssh_config uses the first value obtained for each
      // option, so Host blocks (or an `Include` of generated fragments) in
      // `extra` must come before our defaults to be able to override them
      // (e.g. a ProxyCommand/User/Port from a burrow-generated fragment).
      // `Host *` then re-opens matching for everything below, whatever Host
      // block `extra` ended in. Use absolute paths in `Include` (relative
      // ones resolve against ~/.ssh).
      const text = [
        extra,
        '',
        'Host *',
        `  IdentityFile ${base.clientKey}`,
        '  IdentitiesOnly yes',
        '  BatchMode yes',
        '  StrictHostKeyChecking no',
        '  UserKnownHostsFile /dev/null',
        '  LogLevel ERROR',
        '  User root',
        '',
      ].join('\n')
      writeFileSync(path, text, { mode: 0o600 })
      return path
    },
    stop: () => server.stop(),
  }
  live.add(server)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    // Last resort if a test forgets stop(): kill the process groups
    // synchronously on exit (children that setsid()'d escape this one).
    process.on('exit', () => {
      for (const s of live) {
        try {
          process.kill(-s.proc.pid, 'SIGKILL')
        } catch {}
        try {
          rmSync(s.base.dir, { recursive: true, force: true })
        } catch {}
      }
    })
  }
  return server
}

async function waitReady(server: Server, target: () => net.NetConnectOpts): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let last: unknown
  while (Date.now() < deadline) {
    if (server.exitCode !== null) {
      throw new Error(
        `${server.proc.pid} exited with ${server.exitCode} before accepting: ${readLog(server.base.logFile)}`,
      )
    }
    try {
      await readBanner(target(), Math.max(100, Math.min(3000, deadline - Date.now())))
      return
    } catch (e) {
      last = e
      await Bun.sleep(25)
    }
  }
  throw new Error(
    `sshd not ready after ${READY_TIMEOUT_MS} ms: ${String(last)}; log: ${readLog(server.base.logFile)}`,
  )
}

/** Connect, wait for the `SSH-2.0-` identification line, then disconnect. */
export function readBanner(target: net.NetConnectOpts, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const sock = net.connect(target)
    const done = (err: Error | null, banner = '') => {
      clearTimeout(timer)
      sock.destroy()
      if (err) reject(err)
      else resolve(banner)
    }
    const timer = setTimeout(() => done(new Error('timed out waiting for SSH banner')), timeoutMs)
    sock.on('data', (d) => {
      buf += d.toString('latin1')
      const i = buf.indexOf('SSH-2.0-')
      const nl = buf.indexOf('\n', i)
      if (i >= 0 && nl > i) done(null, buf.slice(i, nl).trimEnd())
    })
    sock.on('error', (e) => done(e))
    sock.on('close', () =>
      done(new Error(`connection closed before SSH banner (got ${JSON.stringify(buf)})`)),
    )
  })
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port)
        else reject(new Error('no port'))
      })
    })
  })
}

function readLog(path: string): string {
  try {
    return JSON.stringify(readFileSync(path, 'utf8').slice(-2000))
  } catch {
    return '(no log)'
  }
}

// --- process tree handling --------------------------------------------------

/** All live descendants of `root` (not including it), from /proc. */
export function descendantPids(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue
    }
    // pid (comm) state ppid ...; comm may contain spaces and parens
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ppid = Number(fields[1])
    const list = children.get(ppid)
    if (list) list.push(Number(name))
    else children.set(ppid, [Number(name)])
  }
  const out: number[] = []
  const queue = [root]
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c)
      queue.push(c)
    }
  }
  return out
}

/** Command name (/proc/PID/comm) or '' if gone. */
export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return ''
  }
}

/**
 * Kill `root`, its process group and every descendant. sshd puts session
 * commands into their own session (setsid), so a group kill alone is not
 * enough: freeze the tree with SIGSTOP (so nobody forks or gets reparented
 * mid-walk), re-walk until it stops growing, then SIGKILL everything.
 */
export async function killTree(root: number): Promise<void> {
  const seen = new Set<number>()
  const stop = (pid: number) => {
    seen.add(pid)
    try {
      process.kill(pid, 'SIGSTOP')
    } catch {}
  }
  try {
    process.kill(-root, 'SIGSTOP')
  } catch {}
  stop(root)
  for (let round = 0; round < 20; round++) {
    const fresh = descendantPids(root).filter((p) => !seen.has(p))
    if (fresh.length === 0) break
    fresh.forEach(stop)
  }
  try {
    process.kill(-root, 'SIGKILL')
  } catch {}
  for (const pid of seen) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  // wait (briefly) until the non-root ones are gone; root is our child and is
  // reaped via proc.exited by the caller
  const deadline = Date.now() + 2000
  while (Date.now() < deadline) {
    const alive = [...seen].filter((p) => p !== root && isAlive(p))
    if (alive.length === 0) break
    await Bun.sleep(10)
  }
}

/** true unless the process is gone or a zombie */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

export function sshdAvailable(): boolean {
  return existsSync(SSHD) && existsSync('/run/sshd')
}

/**
 * Options for a throwaway, non-interactive OpenSSH client that only uses `key`: no ~/.ssh
 * config, no agent keys, no host-key prompts or records, errors only.
 */
export function batchSshOptions(key: string): string[] {
  return [
    '-F',
    '/dev/null',
    '-i',
    key,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
  ]
}
