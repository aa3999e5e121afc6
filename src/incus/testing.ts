/**
 * Test containers in the real incusd (scripts/provision.d/40-incus.sh installs it and imports the
 * images). Incus state survives between runs, so every helper reuses what it finds by name and
 * repairs what is not as expected. Not a test file; imported by tests only.
 */
import { existsSync } from 'node:fs'
import { defaultEndpoint, DEFAULT_SOCKET } from './endpoint'
import { IncusClient, IncusError } from './client'
import { run } from './exec'

export const DEBIAN_IMAGE = 'burrow/debian'
export const BUSYBOX_IMAGE = 'burrow/busybox'

export function incusAvailable(): boolean {
  return existsSync(process.env.INCUS_SOCKET || DEFAULT_SOCKET)
}

export function testClient(): IncusClient {
  return new IncusClient(defaultEndpoint())
}

export async function incus(...args: string[]): Promise<string> {
  const p = Bun.spawn(['incus', ...args], { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const [code, out, err] = await Promise.all([
    p.exited,
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
  ])
  if (code !== 0) throw new Error(`incus ${args.join(' ')} failed (${code}): ${err.trim()}`)
  return out
}

export interface ContainerSpec {
  name: string
  image?: string
  project?: string
  /** shell script run as root once after creation (or when `marker` is missing) */
  setup?: string
  /** a file whose presence says setup already ran */
  marker?: string
  /** leave it stopped */
  stopped?: boolean
}

/** The container, created from its image if missing, running unless `stopped`, set up once. */
export async function ensureContainer(spec: ContainerSpec): Promise<void> {
  const c = testClient()
  const project = spec.project ?? 'default'
  const p = project === 'default' ? [] : ['--project', project]
  if (project !== 'default') {
    try {
      await c.get(`/1.0/projects/${project}`)
    } catch (err) {
      if (!(err instanceof IncusError) || err.code !== 404) throw err
      // features.images=false and features.profiles=false: share the default project's image and root disk
      await incus(
        'project',
        'create',
        project,
        '-c',
        'features.images=false',
        '-c',
        'features.profiles=false',
      )
    }
  }
  let status: string | undefined
  try {
    status = (await c.instance(spec.name, project)).status
  } catch (err) {
    if (!(err instanceof IncusError) || err.code !== 404) throw err
  }
  if (status && status !== 'Running' && status !== 'Stopped') {
    await incus('delete', '--force', spec.name, ...p)
    status = undefined
  }
  if (!status) {
    await incus('init', spec.image ?? DEBIAN_IMAGE, spec.name, ...p)
    status = 'Stopped'
  }
  if (spec.setup) {
    if (status === 'Stopped') await startBooted(c, spec.name, project)
    const marker = spec.marker ?? '/etc/burrow-test-setup'
    const script = `[ -e ${marker} ] && exit 0\nset -e\n${spec.setup}\ntouch ${marker}`
    const res = await run(c, spec.name, project, ['/bin/sh', '-c', script])
    if (res.code !== 0) throw new Error(`setup of ${spec.name} failed (${res.code}): ${res.stderr}`)
    status = 'Running'
  }
  if (spec.stopped && status === 'Running') await incus('stop', '--force', spec.name, ...p)
  else if (!spec.stopped && status === 'Stopped') await startBooted(c, spec.name, project)
}

async function startBooted(c: IncusClient, name: string, project: string): Promise<void> {
  await c.start(name, project)
  await waitBooted(c, name, project)
}

/**
 * sysvinit's boot scripts in a freshly started container: until they are done, `bootclean`
 * empties /run and /tmp behind a test's back (a socket, /run/sshd) and init's own ssh service
 * races a test's sshd. A container that was started in the same run failed every compatibility
 * row this way, while a rerun against the booted container passed. busybox's init has no such
 * scripts (no `runlevel`): it counts as booted at once.
 */
const BOOTED = [
  'command -v runlevel >/dev/null || exit 0',
  'case "$(runlevel 2>/dev/null)" in *[1-5]) ;; *) exit 1 ;; esac',
  // /etc/init.d/rc still running the runlevel's start scripts
  "! pgrep -f '^/bin/sh /etc/init.d/rc' >/dev/null",
].join('\n')

export async function waitBooted(
  c: IncusClient,
  name: string,
  project = 'default',
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const res = await run(c, name, project, ['/bin/sh', '-c', BOOTED])
    if (res.code === 0) return
    if (Date.now() > deadline)
      throw new Error(`${name} did not finish booting in ${timeoutMs / 1000} s: ${res.stderr}`)
    await Bun.sleep(200)
  }
}

/** Processes in the container, one `ps -eo pid,args` line each (excluding ps itself). */
export async function processes(name: string, project = 'default'): Promise<string[]> {
  const res = await run(testClient(), name, project, ['ps', '-eo', 'pid,args'])
  return res.stdout
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() && !/\bps -eo\b/.test(l))
}
