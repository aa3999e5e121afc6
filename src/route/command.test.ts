import { describe, expect, test } from 'bun:test'
import { buildSshCommand } from './command'
import { defaults } from './config'
import { parseDest } from './dest'

const config = { ...defaults(), ssh: { exe: 'ssh', args: ['-q'] } }
const build = (original: string, o: { tty?: boolean; dest?: string; cfg?: Partial<typeof config> } = {}) =>
  buildSshCommand({ config: { ...config, ...o.cfg }, dest: parseDest(o.dest ?? 'login3'), original, tty: o.tty ?? false, self: "'/usr/bin/burrow'" }).argv

describe('the ssh command line', () => {
  test.each([
    ['', false, ['ssh', '-q', 'login3']],
    ['top', true, ['ssh', '-q', '-t', 'login3', '--', 'top']],
    ['scp -t /x', false, ['ssh', '-q', 'login3', '--', 'scp -t /x']],
    ['/usr/lib/openssh/sftp-server', false, ['ssh', '-q', '-s', 'login3', '--', 'sftp']],
    ['internal-sftp', false, ['ssh', '-q', '-s', 'login3', '--', 'sftp']],
    ['-oProxyCommand=touch /tmp/x', false, ['ssh', '-q', 'login3', '--', '-oProxyCommand=touch /tmp/x']],
    ['-- -F /dev/null', true, ['ssh', '-q', '-t', 'login3', '--', '-- -F /dev/null']],
  ])('command %p (tty %p)', (original, tty, argv) => {
    expect(build(original, { tty })).toEqual(argv)
  })

  test('a port other than 22 is -p; a burrow address goes through burrow proxy with % doubled', () => {
    expect(build('id', { dest: 'h:2222' })).toEqual(['ssh', '-q', '-p', '2222', 'h', '--', 'id'])
    expect(build('id', { dest: 'unix/run/a%b.sock' })).toEqual([
      'ssh', '-q', '-o', "ProxyCommand='/usr/bin/burrow' proxy 'unix/run/a%%b.sock' 22", '-o', 'ProxyUseFdpass=yes', '-o', 'CheckHostIP=no',
      'unix/run/a%b.sock', '--', 'id',
    ])
  })

  test('force_command, command_must_match and translate_commands', () => {
    expect(build('ls', { cfg: { force_command: 'internal-sftp' } })).toEqual(['ssh', '-q', '-s', 'login3', '--', 'sftp'])
    expect(() => build('ls', { cfg: { force_command: 'true', command_must_match: true } })).toThrow("this service only runs 'true'")
    const translate_commands = { 'get-job': { ssh_args: ['-T'], command: 'squeue --me', disable_dump: true } }
    expect(build('get-job', { cfg: { translate_commands } })).toEqual(['ssh', '-q', '-T', 'login3', '--', 'squeue --me'])
  })
})
