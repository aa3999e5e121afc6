/**
 * What runs in the instance for a session: argv, environment and identity, as sshd's
 * do_child() would build them. The client's command string goes to the user's shell `-c`
 * untouched (no re-quoting, so multi-line scripts, quotes and `$` arrive byte for byte).
 */
import type { ExecRequest } from '../../incus'
import type { InstanceUser, Switcher } from './instance'
import type { TermMux } from './persistent'
import { muxCommand } from './persistent'

export type ShellMode = 'user-shell' | 'login' | 'su'
export const SHELL_MODES: readonly ShellMode[] = ['user-shell', 'login', 'su']

export interface SessionSpec {
  user: InstanceUser
  mode: ShellMode
  /** the exec request's command; undefined for a shell */
  command?: string
  pty?: { term: string; cols: number; rows: number }
  /** attach to (or create) a tmux session, for a leading `/` in the login */
  persistent: boolean
  /** the multiplexer for `persistent` (default tmux) */
  mux?: TermMux
  /** accepted `env` requests */
  clientEnv: Record<string, string>
  /** "client-ip client-port server-ip server-port" */
  connection: string
  /** a marker every process of this session inherits, so the whole tree can be found and killed */
  marker: string
}

export const MARKER_VAR = 'BURROW_SESSION'
const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const USER_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/games'

export function buildExec(s: SessionSpec): ExecRequest {
  const u = s.user
  const [cip, cport, , sport] = s.connection.split(' ')
  const env: Record<string, string> = {
    ...s.clientEnv,
    PATH: u.uid === 0 ? ROOT_PATH : USER_PATH,
    HOME: u.home,
    USER: u.name,
    LOGNAME: u.name,
    SHELL: u.shell,
    SSH_CONNECTION: s.connection,
    SSH_CLIENT: `${cip} ${cport} ${sport}`,
    [MARKER_VAR]: s.marker,
  }
  if (s.pty) env.TERM = s.pty.term || 'xterm-256color'
  const base = { environment: env, interactive: !!s.pty, width: s.pty?.cols, height: s.pty?.rows }

  let command = s.command
  if (s.persistent) command = muxCommand(s.mux ?? 'tmux')
  // su and login run as root and switch identity themselves (with PAM and initgroups)
  if (s.mode === 'su') {
    const argv = ['su', '-', u.name]
    return { ...base, command: command === undefined ? argv : [...argv, '-c', command] }
  }
  if (s.mode === 'login' && command === undefined && s.pty) {
    return { ...base, command: ['login', '-p', '-h', cip ?? '', '-f', u.name] }
  }
  const argv = command === undefined ? [u.shell, '-l'] : [u.shell, '-c', command]
  if (u.uid === 0) return { ...base, command: argv, cwd: u.home }
  // Incus's exec user/group drop every supplementary group (ssh2incus issue #11): a switcher,
  // started as root, sets them all before running the shell as the user
  if (u.switcher && u.gids.length > 1)
    return { ...base, command: [...switchArgv(u, u.switcher), ...argv], cwd: u.home }
  return { ...base, command: argv, user: u.uid, group: u.gid, cwd: u.home }
}

function switchArgv(u: InstanceUser, sw: Switcher): string[] {
  if (sw.kind === 'setpriv') {
    const groups = u.gids.filter((g) => g !== u.gid)
    return [sw.path, `--reuid=${u.uid}`, `--regid=${u.gid}`, `--groups=${groups.join(',')}`, '--']
  }
  // busybox su: -m keeps the environment Incus sets, `--` ends its options before the user,
  // and /bin/sh execs argv unchanged ($0 "$@"), so the user's shell is not involved twice
  return [sw.path, '-m', '-s', '/bin/sh', '-c', 'exec "$0" "$@"', '--', u.name]
}

/** `env` requests sshd would take with AcceptEnv LANG LC_* plus `extra` patterns (`*` globs). */
export function envAllowed(name: string, extra: string[]): boolean {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || name === MARKER_VAR) return false
  return ['LANG', 'LC_*', ...extra].some((p) =>
    p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p,
  )
}

/**
 * What sshd's hang-up would end when the client goes away, among the processes carrying the
 * session's marker (run as root, busybox-compatible). With a PTY: SIGHUP and SIGCONT to the
 * session leader and the terminal's foreground process group, as the kernel sends when a
 * terminal hangs up (the shell passes it on to its jobs). Without one: SIGKILL to the command's
 * process group. Processes that left with setsid (daemons: `setsid nohup … &`, VS Code's
 * server) are in neither and live on, as under sshd.
 */
export function killTreeCommand(marker: string, pty: boolean): string[] {
  const script = [
    'm=$1 mode=$2 all="" info="" root=""',
    'for p in /proc/[0-9]*; do',
    // environ is NUL-separated; tr keeps this portable to busybox (no grep -z there)
    `  tr '\\0' '\\n' < "$p/environ" 2>/dev/null | grep -qx "${MARKER_VAR}=$m" || continue`,
    // stat after the last ") " (comm may hold spaces): state ppid pgrp session tty tpgid …
    // starttime is the 20th
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not JS
    '  s=$(cat "$p/stat" 2>/dev/null) || continue; s=${s##*) }; set -- $s',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not JS
    '  all="$all ${p#/proc/} "; info="$info ${p#/proc/}:$2:$3:$4:$6:${20}"',
    'done',
    // the command itself: the oldest carrier whose parent carries no marker (orphans of a
    // dead command have init as parent, but started later)
    'best=""',
    'for i in $info; do IFS=:; set -- $i; unset IFS',
    '  case $all in *" $2 "*) continue ;; esac',
    '  if [ -z "$best" ] || [ "$6" -lt "$best" ]; then best=$6; root=$i; fi',
    'done',
    '[ -n "$root" ] || exit 0',
    'IFS=:; set -- $root; unset IFS; rpg=$3 rsid=$4 rtpg=$5',
    'for i in $info; do IFS=:; set -- $i; unset IFS',
    '  if [ "$mode" = pty ]; then',
    '    [ "$4" = "$rsid" ] && { [ "$1" = "$rsid" ] || [ "$3" = "$rtpg" ]; } && kill -HUP "$1" && kill -CONT "$1"',
    '  else [ "$3" = "$rpg" ] && [ "$4" = "$rsid" ] && kill -9 "$1"; fi',
    'done 2>/dev/null',
    'exit 0',
  ].join('\n')
  return ['/bin/sh', '-c', script, 'sh', marker, pty ? 'pty' : 'exec']
}
