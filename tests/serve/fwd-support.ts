/**
 * Shared by the files, forward, agent and jump tests: a container from the current test image
 * (openssh-client, openssh-server, socat; loopback up, no NIC) with an unprivileged user, and
 * helpers to look at it. Not a test file.
 */
import { ensureContainer, incus, testClient } from '../../src/incus/testing'
import { run } from '../../src/incus'
import type { Serve } from './support'
import { sshArgs } from './support'

export const FWD = 'burrow-t-fwd'
/** a busybox container: no scp, no sftp-server */
export const TINY = 'burrow-t-busybox'

export async function prepareFwd(): Promise<void> {
  // a container made from an older image lacks the tools: make it again from the current one
  await fwdContainer().catch(async (err: Error) => {
    if (!err.message.startsWith(`setup of ${FWD} failed`)) throw err
    await incus('delete', '--force', FWD)
    await fwdContainer()
  })
  await ensureContainer({ name: TINY, image: 'burrow/busybox' })
}

function fwdContainer(): Promise<void> {
  return ensureContainer({
    name: FWD,
    marker: '/etc/burrow-test-fwd',
    setup: [
      'for t in socat ssh-add scp ip sshd; do command -v $t >/dev/null; done',
      'id alice >/dev/null 2>&1 || useradd -m -s /bin/bash alice',
      'mkdir -p /run/sshd',
    ].join('\n'),
  })
}

/** Runs a shell script as root in the container. */
export async function sh(
  script: string,
  name = FWD,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(testClient(), name, 'default', ['/bin/sh', '-c', script])
}

/** Starts `script` detached inside the container (it outlives the exec). */
export async function daemon(script: string, name = FWD): Promise<void> {
  const r = await sh(
    `setsid -f /bin/sh -c '${script.replaceAll("'", "'\\''")}' </dev/null >/dev/null 2>&1`,
    name,
  )
  if (r.code !== 0) throw new Error(`daemon ${script}: ${r.stderr}`)
}

/** burrow's devices on an instance */
export async function burrowDevices(name = FWD): Promise<string[]> {
  const out = await incus('config', 'device', 'list', name)
  return out.split('\n').filter((l) => l.startsWith('burrow-'))
}

/** Polls until `check` returns true (or the time is up), returns its last answer. */
export async function until(check: () => Promise<boolean> | boolean, ms = 8000): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > end) return false
    await Bun.sleep(100)
  }
}

/** The real ssh client, long-running (-N forwarding and the like); stop() kills it. */
export function background(s: Serve, login: string, extra: string[], command?: string) {
  const p = Bun.spawn([...sshArgs(s, login, extra), ...(command ? [command] : [])], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  return {
    proc: p,
    async stop() {
      p.kill('SIGTERM')
      await p.exited
    },
  }
}

export async function sha256(path: string): Promise<string> {
  const h = new Bun.CryptoHasher('sha256')
  const f = Bun.file(path)
  for await (const chunk of f.stream()) h.update(chunk)
  return h.digest('hex')
}
