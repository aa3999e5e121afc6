import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { run } from '../../src/incus'
import { incusAvailable, testClient } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, prepareTargets, sshArgs, startServe } from './support'

let s: Serve
const SOCK = `burrow-pty-${process.pid}`

const tmux = (...args: string[]) => {
  const p = Bun.spawnSync(['tmux', '-L', SOCK, ...args])
  if (p.exitCode !== 0) throw new Error(`tmux ${args.join(' ')}: ${p.stderr}`)
  return p.stdout.toString()
}
const screen = (name: string) => tmux('capture-pane', '-p', '-t', name)

async function waitFor(name: string, re: RegExp, ms = 10_000): Promise<string> {
  const deadline = Date.now() + ms
  for (;;) {
    const text = screen(name)
    if (re.test(text)) return text
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in:\n${text}`)
    await Bun.sleep(50)
  }
}

/** an interactive `ssh -tt` inside a detached tmux window of the given size; its exit status lands in a file */
function open(name: string, login: string, cols = 100, rows = 30): string {
  const rc = join(s.dir, `${name}.rc`)
  const cmd = `${sshArgs(s, login, ['-tt'])
    .map((a) => `'${a}'`)
    .join(' ')}; echo $? > ${rc}`
  tmux('new-session', '-d', '-s', name, '-x', String(cols), '-y', String(rows), cmd)
  return rc
}

async function exitStatus(rc: string): Promise<number> {
  for (let i = 0; i < 200 && !existsSync(rc); i++) await Bun.sleep(50)
  return Number(readFileSync(rc, 'utf8'))
}

describe.skipIf(!incusAvailable())('serve: interactive shell through ssh -tt in tmux', () => {
  beforeAll(async () => {
    await prepareTargets()
    s = await startServe(['--welcome', 'Welcome to [INSTANCE] as [INSTANCE_USER] in [PROJECT]'])
  })
  afterAll(async () => {
    Bun.spawnSync(['tmux', '-L', SOCK, 'kill-server'])
    await run(testClient(), C1, 'default', ['tmux', 'kill-server']).catch(() => {})
    await s?.stop()
  })

  test('prompt, welcome, TERM, window size and resize, exit status', async () => {
    const rc = open('shell', C1)
    const first = await waitFor('shell', /root@\S+:~#$/m)
    expect(first).toContain(`Welcome to ${C1} as root in default`)
    tmux('send-keys', '-t', 'shell', 'stty size; echo "T=$TERM"; tty', 'Enter')
    // wait for the last of the three lines: under load they reach the pane one by one
    expect(await waitFor('shell', /^\/dev\/pts\/\d+$/m)).toMatch(
      /^30 100\nT=(screen|tmux)\S*\n\/dev\/pts\/\d+$/m,
    )
    tmux('resize-window', '-t', 'shell', '-x', '120', '-y', '40')
    await Bun.sleep(200)
    tmux('send-keys', '-t', 'shell', 'clear; stty size', 'Enter')
    await waitFor('shell', /^40 120$/m)
    tmux('send-keys', '-t', 'shell', 'exit 3', 'Enter')
    expect(await exitStatus(rc)).toBe(3)
  })

  test('Ctrl-C interrupts the foreground command, the shell survives', async () => {
    const rc = open('intr', `alice@${C1}`)
    await waitFor('intr', /alice@\S+:~\$$/m)
    tmux('send-keys', '-t', 'intr', 'sleep 100; echo after=$?', 'Enter')
    await Bun.sleep(300)
    tmux('send-keys', '-t', 'intr', 'C-c')
    await waitFor('intr', /\^C\s*\n.*alice@\S+:~\$$/m)
    tmux('send-keys', '-t', 'intr', 'id -gn; exit', 'Enter')
    expect(await exitStatus(rc)).toBe(0)
  })

  test('a leading / attaches to a persistent tmux session in the instance', async () => {
    const rc = open('persist', `/${C1}`)
    await waitFor('persist', /root@\S+:~#$/m)
    tmux('send-keys', '-t', 'persist', 'export MARK=kept', 'Enter')
    await waitFor('persist', /export MARK=kept\n(.*\n)*root@\S+:~#\s*$/m)
    // detach from the inner tmux (its prefix is C-b): the SSH session ends, the tmux session stays
    tmux('send-keys', '-t', 'persist', 'C-b')
    await Bun.sleep(100)
    tmux('send-keys', '-t', 'persist', 'd')
    expect(await exitStatus(rc)).toBe(0)
    const ls = await run(testClient(), C1, 'default', ['tmux', 'ls'])
    expect(ls.stdout).toStartWith('burrow:')
    const rc2 = open('persist2', `/${C1}`)
    await waitFor('persist2', /root@\S+:~#$/m)
    tmux('send-keys', '-t', 'persist2', 'echo "mark=$MARK"', 'Enter')
    await waitFor('persist2', /^mark=kept$/m)
    tmux('send-keys', '-t', 'persist2', 'exit', 'Enter')
    expect(await exitStatus(rc2)).toBe(0)
  })
})
