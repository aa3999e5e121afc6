import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { run } from '../../src/incus'
import { incusAvailable, processes, testClient } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, prepareTargets, ssh, sshArgs, startServe } from './support'

let s: Serve
let screenServe: Serve
const SOCK = `burrow-persist-${process.pid}`

const tmux = (...args: string[]) => {
  const p = Bun.spawnSync(['tmux', '-L', SOCK, ...args])
  if (p.exitCode !== 0) throw new Error(`tmux ${args.join(' ')}: ${p.stderr}`)
  return p.stdout.toString()
}

async function waitFor(name: string, re: RegExp, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms
  for (;;) {
    const text = tmux('capture-pane', '-p', '-t', name)
    if (re.test(text)) return text
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in:\n${text}`)
    await Bun.sleep(50)
  }
}

/** `ssh -tt LOGIN` in a detached host tmux window; its exit status lands in NAME.rc */
function open(name: string, login: string): string {
  const rc = join(s.dir, `${name}.rc`)
  const cmd = `${sshArgs(s, login, ['-tt'])
    .map((a) => `'${a}'`)
    .join(' ')}; echo $? > ${rc}`
  tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '30', cmd)
  return rc
}

async function waitForProcess(re: RegExp, present = true, ms = 10_000): Promise<string[]> {
  const deadline = Date.now() + ms
  for (;;) {
    const ps = await processes(C1)
    if (ps.some((l) => re.test(l)) === present) return ps
    if (Date.now() > deadline)
      throw new Error(`waiting for ${re} (${present}) in:\n${ps.join('\n')}`)
    await Bun.sleep(100)
  }
}

const killMux = () => run(testClient(), C1, 'default', ['tmux', 'kill-server']).catch(() => {})

describe.skipIf(!incusAvailable())('serve: persistent sessions (/instance)', () => {
  beforeAll(async () => {
    await prepareTargets()
    await killMux()
    s = await startServe()
    screenServe = await startServe(['--term-mux', 'screen'])
  })
  afterAll(async () => {
    Bun.spawnSync(['tmux', '-L', SOCK, 'kill-server'])
    await killMux()
    await Promise.all([s?.stop(), screenServe?.stop()])
  })

  test('a process started before a dropped connection is still there after reconnect', async () => {
    open('one', `/${C1}`)
    await waitFor('one', /root@\S+:~#\s*$/m)
    tmux('send-keys', '-t', 'one', 'sleep 4242', 'Enter')
    const before = (await waitForProcess(/^\s*\d+ sleep 4242$/)).filter((l) =>
      /tmux new-session -A -s burrow$/.test(l),
    ).length
    // drop the connection the hard way: SIGKILL the ssh client, so no SSH close is ever sent
    const panePid = tmux('list-panes', '-t', 'one', '-F', '#{pane_pid}').trim()
    const sshPid = Bun.spawnSync(['pgrep', '-P', panePid, '-x', 'ssh']).stdout.toString().trim()
    expect(sshPid).toMatch(/^\d+$/)
    process.kill(Number(sshPid), 'SIGKILL')
    // the server notices the closed socket and ends the exec; give its cleanup time to act
    for (let i = 0; i < 100 && !/closed|ended/.test(s.log()); i++) await Bun.sleep(20)
    await Bun.sleep(1000)
    const ps = await processes(C1)
    expect(ps.some((l) => /sleep 4242$/.test(l))).toBe(true)
    // the tmux client went with the connection, the tmux server (same argv) stayed
    expect(ps.filter((l) => /tmux new-session -A -s burrow$/.test(l)).length).toBe(before - 1)

    const rc = open('two', `/${C1}`)
    // the reattached window still shows the running command, and Ctrl-C reaches it
    await waitFor('two', /# sleep 4242\s*$/m)
    tmux('send-keys', '-t', 'two', 'C-c')
    await waitFor('two', /^\^C\s*\n.*root@\S+:~#\s*$/m)
    await waitForProcess(/sleep 4242$/, false)
    tmux('send-keys', '-t', 'two', 'exit', 'Enter')
    for (let i = 0; i < 200 && !existsSync(rc); i++) await Bun.sleep(50)
    expect(readFileSync(rc, 'utf8').trim()).toBe('0')
  })

  test('a missing multiplexer that cannot be installed is one clear line', async () => {
    // screen is not in the test image and the container has no network for apt-get
    const r = await ssh(screenServe, `/${C1}`, undefined, { extra: ['-tt'] })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('burrow: Installing screen in burrow-t-serve')
    expect(r.stderr).toMatch(
      /burrow: Failed to start a persistent session: screen is not installed in burrow-t-serve and installing it failed \(apt-get: E: [^)]+\); install screen in the instance or use --term-mux tmux\r\n$/,
    )
  })
})
