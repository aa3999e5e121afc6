/**
 * The ssh command line for one session. The user's command always comes after `--`, so a
 * command starting with `-` is never read as an ssh option (sshproxy PR #16), and nothing from
 * the environment is appended to the options (sshproxy's SSHPROXY_ARGS was).
 */
import { fail } from '../core/errors'
import type { Config } from './config'
import type { Dest } from './dest'

/** What sshd's Subsystem line may say for sftp; any of them arrives as SSH_ORIGINAL_COMMAND. */
export const SFTP_SERVERS = [
  'internal-sftp',
  '/usr/lib/openssh/sftp-server',
  '/usr/libexec/openssh/sftp-server',
  '/usr/libexec/sftp-server',
  '/usr/lib/ssh/sftp-server',
  '/usr/lib/sftp-server',
]

export interface SshCommand {
  argv: string[]
  /** a translate_commands entry turned recording off */
  disableDump: boolean
  /** the request was the sftp subsystem */
  sftp: boolean
}

export interface BuildOptions {
  config: Pick<
    Config,
    'ssh' | 'force_command' | 'command_must_match' | 'translate_commands' | 'check_timeout'
  >
  dest: Dest
  /** SSH_ORIGINAL_COMMAND ('' for an interactive login) */
  original: string
  /** the client has a terminal (sshd allocated a PTY) */
  tty: boolean
  /** how ssh starts `burrow` (shell-quoted), for burrow-address destinations */
  self: string
}

const shq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`

export function isSftp(command: string): boolean {
  const first = command.trim().split(/\s+/)[0] ?? ''
  return SFTP_SERVERS.includes(command) || SFTP_SERVERS.includes(first)
}

/** command_must_match: anything but force_command is refused (before any host is tried). */
export function checkCommand(
  config: Pick<Config, 'force_command' | 'command_must_match'>,
  original: string,
): void {
  if (config.command_must_match && original !== config.force_command) {
    fail('run the command', `this service only runs '${config.force_command}'`)
  }
}

export function buildSshCommand(o: BuildOptions): SshCommand {
  const { config, dest } = o
  const argv = [config.ssh.exe, ...config.ssh.args]
  /** how ssh reaches the host; right before it, so that any ssh option the config gives wins */
  const to = [dest.host]
  if (dest.address !== undefined) {
    // ssh percent-expands ProxyCommand: a literal `%` in a path must be doubled
    const proxy = `${o.self} proxy ${shq(dest.address)} ${dest.port}`.replaceAll('%', '%%')
    argv.push('-o', `ProxyCommand=${proxy}`, '-o', 'ProxyUseFdpass=yes', '-o', 'CheckHostIP=no')
  } else {
    // ssh gets its socket from `burrow route connect`, without Nagle from the first byte
    // (connect.ts); ssh takes the first value it is given, so a ProxyCommand or ProxyJump in
    // ssh.args or a translate_commands entry wins
    const quiet = config.ssh.args.includes('-q') ? ' --quiet' : ''
    const proxy = `${o.self.replaceAll('%', '%%')} route connect${quiet} --wait ${config.check_timeout / 1000} %h %p`
    to.unshift(
      '-o',
      `ProxyCommand=${proxy}`,
      '-o',
      'ProxyUseFdpass=yes',
      ...(dest.port !== 22 ? ['-p', String(dest.port)] : []),
    )
  }
  checkCommand(config, o.original)
  const command = config.force_command || o.original
  if (command === '') return { argv: [...argv, ...to], disableDump: false, sftp: false }
  const t = Object.hasOwn(config.translate_commands, command)
    ? config.translate_commands[command]
    : undefined
  if (t) {
    return {
      argv: [...argv, ...t.ssh_args, ...to, '--', t.command],
      disableDump: t.disable_dump,
      sftp: t.ssh_args.includes('-s'),
    }
  }
  if (isSftp(command))
    return { argv: [...argv, '-s', ...to, '--', 'sftp'], disableDump: false, sftp: true }
  return {
    argv: [...argv, ...(o.tty ? ['-t'] : []), ...to, '--', command],
    disableDump: false,
    sftp: false,
  }
}
