import { describe, expect, test } from 'bun:test'
import { buildSshCommand } from './command'
import { defaults } from './config'
import { parseDest } from './dest'

const config = { ...defaults(), ssh: { exe: 'ssh', args: ['-q'] } }
/** what a TCP destination adds: ssh's socket comes from `burrow route connect` */
const tcp = [
  '-o',
  "ProxyCommand='/usr/bin/burrow' route connect --quiet --wait 2 %h %p",
  '-o',
  'ProxyUseFdpass=yes',
]
const build = (
  original: string,
  o: { tty?: boolean; dest?: string; cfg?: Partial<typeof config> } = {},
) =>
  buildSshCommand({
    config: { ...config, ...o.cfg },
    dest: parseDest(o.dest ?? 'login3'),
    original,
    tty: o.tty ?? false,
    self: "'/usr/bin/burrow'",
  }).argv

describe('the ssh command line', () => {
  test.each([
    ['', false, [...tcp, 'login3']],
    ['top', true, ['-t', ...tcp, 'login3', '--', 'top']],
    ['scp -t /x', false, [...tcp, 'login3', '--', 'scp -t /x']],
    ['/usr/lib/openssh/sftp-server', false, ['-s', ...tcp, 'login3', '--', 'sftp']],
    ['internal-sftp', false, ['-s', ...tcp, 'login3', '--', 'sftp']],
    ['-oProxyCommand=touch /tmp/x', false, [...tcp, 'login3', '--', '-oProxyCommand=touch /tmp/x']],
    ['-- -F /dev/null', true, ['-t', ...tcp, 'login3', '--', '-- -F /dev/null']],
  ])('command %p (tty %p)', (original, tty, rest) => {
    expect(build(original, { tty })).toEqual(['ssh', '-q', ...rest])
  })

  test('a port other than 22 is -p; a burrow address goes through burrow proxy with % doubled', () => {
    expect(build('id', { dest: 'h:2222' })).toEqual([
      'ssh',
      '-q',
      ...tcp,
      '-p',
      '2222',
      'h',
      '--',
      'id',
    ])
    expect(build('id', { dest: 'unix/run/a%b.sock' })).toEqual([
      'ssh',
      '-q',
      '-o',
      "ProxyCommand='/usr/bin/burrow' proxy 'unix/run/a%%b.sock' 22",
      '-o',
      'ProxyUseFdpass=yes',
      '-o',
      'CheckHostIP=no',
      'unix/run/a%b.sock',
      '--',
      'id',
    ])
  })

  test('force_command, command_must_match and translate_commands', () => {
    expect(build('ls', { cfg: { force_command: 'internal-sftp' } })).toEqual([
      'ssh',
      '-q',
      '-s',
      ...tcp,
      'login3',
      '--',
      'sftp',
    ])
    expect(() => build('ls', { cfg: { force_command: 'true', command_must_match: true } })).toThrow(
      "this service only runs 'true'",
    )
    const translate_commands = {
      'get-job': { ssh_args: ['-T'], command: 'squeue --me', disable_dump: true },
      // ssh keeps the first value: a jump host here comes before burrow's ProxyCommand
      jump: { ssh_args: ['-J', 'bastion'], command: 'id', disable_dump: false },
    }
    expect(build('get-job', { cfg: { translate_commands } })).toEqual([
      'ssh',
      '-q',
      '-T',
      ...tcp,
      'login3',
      '--',
      'squeue --me',
    ])
    expect(build('jump', { cfg: { translate_commands } })).toEqual([
      'ssh',
      '-q',
      '-J',
      'bastion',
      ...tcp,
      'login3',
      '--',
      'id',
    ])
  })

  test('TCP: the connect helper is quiet only with -q, waits check_timeout, and keeps % in its own path', () => {
    const argv = buildSshCommand({
      config: { ...config, ssh: { exe: 'ssh', args: ['-v'] }, check_timeout: 500 },
      dest: parseDest('h'),
      original: '',
      tty: false,
      self: "'/opt/50%/burrow'",
    }).argv
    expect(argv).toEqual([
      'ssh',
      '-v',
      '-o',
      "ProxyCommand='/opt/50%%/burrow' route connect --wait 0.5 %h %p",
      '-o',
      'ProxyUseFdpass=yes',
      'h',
    ])
  })
})
