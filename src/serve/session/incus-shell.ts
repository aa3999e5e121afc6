/**
 * `%shell`: an Incus management shell on the host, for root only. A bash loop on a real PTY reads
 * a line (readline editing and history), runs `incus <line>`, and prompts again; Ctrl+C (a 0x03
 * byte from the client) or Ctrl+D ends it. It runs on the host with the server's own rights, which
 * is why nobody but the host's root may open it.
 */
import type { ServerChannel } from 'ssh2'
import { BurrowError } from '../../core/errors'
import { logger } from '../../core/log'

export interface ShellTerminal {
  resize(cols: number, rows: number): void
}

const LOOP = [
  // Ctrl+C is burrow's to handle (it ends the shell), so bash must not react to a stray SIGINT
  "trap '' INT",
  'echo "Incus shell on $(hostname): type incus commands without \\"incus\\" (list, info NAME, exec NAME -- CMD); Ctrl+C exits."',
  "while IFS= read -r -e -p 'incus ' line; do",
  '  [ -n "$line" ] || continue',
  '  history -s -- "$line"',
  '  eval "incus $line"',
  'done',
  'echo',
].join('\n')

/** Throws one line when the login may not have the shell; otherwise runs it until it ends. */
export function checkIncusShell(refused: string | undefined, hostUser: string, pty: unknown): void {
  // policy.ts mayUseIncusShell decides; without a decision (no access known) only root's name
  if (refused || hostUser !== 'root')
    throw new BurrowError(
      `Failed to run %shell: ${refused ?? 'only root may use the Incus shell'} (logged in as host user ${hostUser})`,
    )
  if (!pty) throw new BurrowError('Failed to run %shell: it needs a terminal (ssh -t)')
}

export function runIncusShell(
  channel: ServerChannel,
  pty: { term: string; cols: number; rows: number },
  onExit: (code: number) => void,
): ShellTerminal {
  const proc = Bun.spawn(['/bin/bash', '--norc', '--noprofile', '-c', LOOP], {
    env: {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin',
      HOME: process.env.HOME ?? '/root',
      TERM: pty.term,
      ...(process.env.INCUS_CONF ? { INCUS_CONF: process.env.INCUS_CONF } : {}),
      ...(process.env.INCUS_SOCKET ? { INCUS_SOCKET: process.env.INCUS_SOCKET } : {}),
    },
    cwd: process.env.HOME ?? '/',
    terminal: {
      cols: pty.cols,
      rows: pty.rows,
      // interactive output is small; the channel buffers what the window does not take
      data: (_t, data) => void channel.write(data),
    },
  })
  let ended = false
  const end = (code: number) => {
    if (ended) return
    ended = true
    onExit(code)
  }
  channel.on('data', (d: Buffer) => {
    if (d.includes(0x03)) {
      // Ctrl+C: the whole shell goes, including an `incus exec` it was running
      logger.debug('%shell: Ctrl+C, ending')
      channel.write('^C\r\n')
      proc.kill('SIGHUP')
      return end(0)
    }
    proc.terminal?.write(d)
  })
  channel.on('close', () => {
    if (proc.exitCode === null) proc.kill('SIGHUP')
  })
  void proc.exited.then((code) => {
    // let the terminal's last output reach the channel before the exit status
    setTimeout(() => end(code ?? 0), 20)
  })
  return { resize: (cols, rows) => proc.terminal?.resize(cols, rows) }
}
