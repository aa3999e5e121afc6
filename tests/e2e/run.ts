// Running the compiled binary and the real OpenSSH clients from tests.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export const ROOT = join(import.meta.dir, '..', '..')
export const BURROW = join(ROOT, 'dist', 'burrow')

export interface Ran {
  code: number
  stdout: string
  stderr: string
  ms: number
}

/** Runs argv to completion (killed after timeoutMs), with NO_COLOR and optional stdin. */
export async function run(
  argv: string[],
  opts: {
    stdin?: string | Uint8Array
    timeoutMs?: number
    env?: Record<string, string>
    cwd?: string
  } = {},
): Promise<Ran> {
  const started = performance.now()
  const proc = Bun.spawn(argv, {
    stdin: opts.stdin === undefined ? 'ignore' : new Blob([opts.stdin]),
    stdout: 'pipe',
    stderr: 'pipe',
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  clearTimeout(timer)
  return { code, stdout, stderr, ms: performance.now() - started }
}

export const burrow = (args: string[], opts?: Parameters<typeof run>[1]) =>
  run([BURROW, ...args], opts)

/** Writes the ssh_config fragment under `root` (as if it were /) and returns its path. */
export async function installFragment(root: string): Promise<string> {
  const r = await burrow(['install-config', '--root', root, '--binary', BURROW])
  if (r.code !== 0) throw new Error(`install-config failed: ${r.stderr}`)
  return join(root, 'etc/ssh/ssh_config.d/20-burrow.conf')
}

/** pids of running dist/burrow processes, optionally only the children of `parent` */
export function burrowPids(parent?: number): number[] {
  const pids: number[] = []
  for (const e of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(e)) continue
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0')
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8')
      const [, state, ppid] = /\) (\S) (\d+) /.exec(stat) ?? []
      if (cmd[0] === BURROW && state !== 'Z' && (parent === undefined || Number(ppid) === parent))
        pids.push(Number(e))
    } catch {
      // the process ended while we looked
    }
  }
  return pids
}

export async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher('sha256')
  h.update(await Bun.file(path).arrayBuffer())
  return h.digest('hex')
}
