import { describe, expect, test } from 'bun:test'
import type { SessionSpec } from './command'
import { buildExec, envAllowed, killTreeCommand } from './command'

const alice = {
  name: 'alice',
  uid: 1000,
  gid: 1000,
  home: '/home/alice',
  shell: '/bin/bash',
  gids: [1000, 100, 27],
  switcher: { kind: 'setpriv' as const, path: '/usr/bin/setpriv' },
}
const root = { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/bash', gids: [0] }
const spec = (o: Partial<SessionSpec>): SessionSpec => ({
  user: alice,
  mode: 'user-shell',
  persistent: false,
  clientEnv: {},
  connection: '10.0.0.9 5555 10.0.0.1 2222',
  marker: 'm1',
  ...o,
})

describe('buildExec', () => {
  test('exec passes the command string untouched to the shell', () => {
    const cmd = "printf '%s\\n' \"$HOME\" | cat\necho 'multi\nline'"
    expect(buildExec(spec({ user: root, command: cmd }))).toMatchObject({
      command: ['/bin/bash', '-c', cmd],
      interactive: false,
      cwd: '/root',
    })
  })

  test('a user with supplementary groups goes through setpriv as root', () => {
    const r = buildExec(spec({ command: 'id' }))
    expect(r.command).toEqual([
      '/usr/bin/setpriv',
      '--reuid=1000',
      '--regid=1000',
      '--groups=100,27',
      '--',
      '/bin/bash',
      '-c',
      'id',
    ])
    expect(r.user).toBeUndefined()
  })

  test('busybox su as root sets the groups and execs argv as it is', () => {
    const sw = { kind: 'busybox-su' as const, path: '/bin/su' }
    const r = buildExec(spec({ user: { ...alice, switcher: sw }, command: 'id -G' }))
    expect(r.command).toEqual([
      '/bin/su',
      '-m',
      '-s',
      '/bin/sh',
      '-c',
      'exec "$0" "$@"',
      '--',
      'alice',
      '/bin/bash',
      '-c',
      'id -G',
    ])
    expect(r.user).toBeUndefined()
  })

  test('without a switcher, Incus sets uid and gid', () => {
    const r = buildExec(spec({ user: { ...alice, switcher: undefined } }))
    expect(r).toMatchObject({
      command: ['/bin/bash', '-l'],
      user: 1000,
      group: 1000,
      cwd: '/home/alice',
    })
  })

  test('environment: passwd values, SSH_*, marker; TERM only with a PTY', () => {
    const r = buildExec(
      spec({
        clientEnv: { LANG: 'C.UTF-8', HOME: '/evil' },
        pty: { term: 'vt100', cols: 80, rows: 24 },
      }),
    )
    expect(r.environment).toEqual({
      LANG: 'C.UTF-8',
      HOME: '/home/alice',
      USER: 'alice',
      LOGNAME: 'alice',
      SHELL: '/bin/bash',
      PATH: '/usr/local/bin:/usr/bin:/bin:/usr/games',
      SSH_CONNECTION: '10.0.0.9 5555 10.0.0.1 2222',
      SSH_CLIENT: '10.0.0.9 5555 2222',
      BURROW_SESSION: 'm1',
      TERM: 'vt100',
    })
    expect(r).toMatchObject({ interactive: true, width: 80, height: 24 })
  })

  test('su and login modes run as root and switch themselves', () => {
    expect(buildExec(spec({ mode: 'su', command: 'id' })).command).toEqual([
      'su',
      '-',
      'alice',
      '-c',
      'id',
    ])
    expect(buildExec(spec({ mode: 'su' })).command).toEqual(['su', '-', 'alice'])
    expect(
      buildExec(spec({ mode: 'login', pty: { term: 'xterm', cols: 1, rows: 1 } })).command,
    ).toEqual(['login', '-p', '-h', '10.0.0.9', '-f', 'alice'])
  })

  test('persistent sessions attach to tmux', () => {
    expect(
      buildExec(spec({ user: root, persistent: true, pty: { term: 'xterm', cols: 1, rows: 1 } }))
        .command,
    ).toEqual(['/bin/bash', '-c', 'exec tmux new-session -A -s burrow'])
  })
})

test.each([
  ['LANG', [], true],
  ['LC_ALL', [], true],
  ['TZ', [], false],
  ['TZ', ['TZ'], true],
  ['GIT_AUTHOR', ['GIT_*'], true],
  ['LD_PRELOAD', [], false],
  ['BURROW_SESSION', ['*'], false],
  ['A=B', ['*'], false],
])('env %p with %p → %p', (name, extra, ok) => expect(envAllowed(name, extra)).toBe(ok))

test('the tree-kill script takes the marker as an argument, not as code', () => {
  const argv = killTreeCommand('abc', false)
  expect(argv.slice(-2)).toEqual(['abc', 'exec'])
  expect(argv[2]).not.toContain('abc')
})
