import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { incusAvailable } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, HOST_IN, prepareTargets, ssh, sshArgs, startServe } from './support'

let s: Serve
const SOCK = `burrow-ishell-${process.pid}`
// `ssh %shell@host` needs %%shell (ssh percent-expands the command line's user); -o User= does not
const SHELL = '%shell'

const tmux = (...args: string[]) => {
  const p = Bun.spawnSync(['tmux', '-L', SOCK, ...args])
  if (p.exitCode !== 0) throw new Error(`tmux ${args.join(' ')}: ${p.stderr}`)
  return p.stdout.toString()
}

async function waitFor(re: RegExp, ms = 10_000): Promise<string> {
  const deadline = Date.now() + ms
  for (;;) {
    const text = tmux('capture-pane', '-p', '-t', 'sh')
    if (re.test(text)) return text
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in:\n${text}`)
    await Bun.sleep(50)
  }
}

describe.skipIf(!incusAvailable())('serve: %shell', () => {
  beforeAll(async () => {
    await prepareTargets()
    s = await startServe()
  })
  afterAll(async () => {
    Bun.spawnSync(['tmux', '-L', SOCK, 'kill-server'])
    await s?.stop()
  })

  test('root gets an incus prompt on a PTY; commands run, Ctrl+C exits', async () => {
    const rc = join(s.dir, 'sh.rc')
    const cmd = `${sshArgs(s, SHELL, ['-tt'])
      .map((a) => `'${a}'`)
      .join(' ')}; echo $? > ${rc}`
    tmux('new-session', '-d', '-s', 'sh', '-x', '120', '-y', '30', cmd)
    await waitFor(/Ctrl\+C exits\.\s*\nincus\s*$/m)
    tmux('send-keys', '-t', 'sh', `list ${C1}$ -f csv -c ns`, 'Enter')
    await waitFor(new RegExp(`^${C1},RUNNING\\s*\\nincus\\s*$`, 'm'))
    tmux('send-keys', '-t', 'sh', 'C-c')
    for (let i = 0; i < 200 && !existsSync(rc); i++) await Bun.sleep(50)
    expect(readFileSync(rc, 'utf8').trim()).toBe('0')
    expect(s.log()).toContain('%shell for host user root')
  })

  test('any other host user is refused', async () => {
    const r = await ssh(s, `${SHELL}+${HOST_IN}`, undefined, { extra: ['-tt'] })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      `burrow: Failed to run %shell: only root may use the Incus shell (logged in as host user ${HOST_IN})`,
    )
  })

  test('without a terminal it is refused', async () => {
    const r = await ssh(s, SHELL, 'list')
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: 'burrow: Failed to run %shell: it needs a terminal (ssh -t)\n',
    })
  })
})
