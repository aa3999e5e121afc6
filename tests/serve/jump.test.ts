import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { incusAvailable } from '../../src/incus/testing'
import type { TestSshd } from '../support/sshd'
import { startUnixSshd } from '../support/sshd'
import type { Serve } from './support'
import { HOST_IN, prepareTargets, sshArgs, startServe } from './support'
import { daemon, FWD, prepareFwd } from './fwd-support'

/** `ssh -W DEST` through burrow serve: the bytes the destination sends first (stdin held open). */
async function w(
  s: Serve,
  login: string,
  dest: string,
): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([...sshArgs(s, login, ['-W', dest])], {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const out = (async () => {
    const reader = p.stdout.getReader()
    const first = await Promise.race([reader.read(), Bun.sleep(5000).then(() => undefined)])
    p.kill()
    return first?.value ? new TextDecoder().decode(first.value) : ''
  })()
  const [o, code, err] = await Promise.all([out, p.exited, new Response(p.stderr).text()])
  return { code, out: o, err }
}

describe.skipIf(!incusAvailable())('serve: jump host to burrow addresses', () => {
  let s: Serve
  let sshd: TestSshd
  beforeAll(async () => {
    await prepareTargets()
    await prepareFwd()
    await daemon('pgrep -x sshd >/dev/null || /usr/sbin/sshd')
    s = await startServe()
    sshd = await startUnixSshd()
  })
  afterAll(async () => {
    await sshd?.stop()
    await s?.stop()
  })

  test('ssh -J-style ProxyCommand to a unix-socket sshd address (as root)', async () => {
    const jump = [...sshArgs(s, FWD, ['-W', '[%h]:%p'])].join(' ')
    const p = Bun.spawn(
      [
        'ssh',
        '-F',
        sshd.sshConfig(),
        '-o',
        `ProxyCommand=${jump}`,
        `unix%${sshd.socketPath}`,
        'echo jumped $((6*7))',
      ],
      { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
    )
    const [code, out, err] = await Promise.all([
      p.exited,
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
    ])
    expect({ code, out, err }).toEqual({ code: 0, out: 'jumped 42\n', err: '' })
    expect(s.log()).toContain(`jumps to unix%${sshd.socketPath}`)
  })

  test("a member's jump runs as that host user: a socket in root's 0700 folder is refused", async () => {
    // (no vsock% here: a jump that is allowed would connect an AF_VSOCK socket, which leaves the
    // sandbox; tests/serve/authz.test.ts has the full table of jump rights)
    const r = await w(s, `${FWD}+${HOST_IN}`, `unix%${sshd.socketPath}:22`)
    expect(r.out).toBe('')
    expect(s.log()).toContain(`jumps to unix%${sshd.socketPath} port 22 as host user ${HOST_IN}`)
    // the child's failure is logged when it exits, just after the client saw the stream close
    for (let i = 0; i < 50 && !/Permission denied/.test(s.log()); i++) await Bun.sleep(100)
    expect(s.log()).toMatch(/Permission denied/)
  })

  test('incus/NAME destinations are open to every member: the instance sshd answers', async () => {
    const r = await w(s, `${FWD}+${HOST_IN}`, `incus%${FWD}:22`)
    expect(r.out).toStartWith('SSH-2.0-OpenSSH')
  })
})
