/**
 * Persistent sessions (`/instance`): a terminal multiplexer in the instance keeps the shell alive
 * across disconnects. A missing one is installed with the instance's package manager first.
 */
import type { IncusClient } from '../../incus'
import { run } from '../../incus'
import { BurrowError } from '../../core/errors'
import { logger } from '../../core/log'

export type TermMux = 'tmux' | 'screen'
export const TERM_MUXES: readonly TermMux[] = ['tmux', 'screen']

/** The session's name in the multiplexer; one per instance user (each has its own server). */
export const SESSION_NAME = 'burrow'

/** Attach to the session, creating it when there is none. */
export function muxCommand(mux: TermMux): string {
  return mux === 'screen'
    ? `exec screen -xRR -S ${SESSION_NAME}`
    : `exec tmux new-session -A -s ${SESSION_NAME}`
}

// Runs as root; $1 is tmux or screen. Exit 0 = present (or installed), 3 = no package manager.
// Only the last lines of the package manager's output are kept for the message.
const INSTALL = [
  'm=$1',
  'command -v "$m" >/dev/null 2>&1 && exit 0',
  'echo "installing $m" >&2',
  'if command -v apt-get >/dev/null 2>&1; then pm=apt-get',
  '  export DEBIAN_FRONTEND=noninteractive',
  '  { apt-get update -q -o Acquire::Retries=0 && apt-get install -y -q --no-install-recommends "$m"; } >/tmp/.burrow-install.log 2>&1',
  'elif command -v dnf >/dev/null 2>&1; then pm=dnf; dnf install -y "$m" >/tmp/.burrow-install.log 2>&1',
  'elif command -v apk >/dev/null 2>&1; then pm=apk; apk add --no-cache "$m" >/tmp/.burrow-install.log 2>&1',
  'else echo "no package manager (apt-get, dnf, apk) found"; exit 3; fi',
  'rc=$?',
  'if [ $rc -ne 0 ] || ! command -v "$m" >/dev/null 2>&1; then',
  '  echo "$pm: $(grep -E "^(E|Error|ERROR):" /tmp/.burrow-install.log | tail -n 1 | cut -c1-200)"',
  '  rm -f /tmp/.burrow-install.log; exit 4',
  'fi',
  'rm -f /tmp/.burrow-install.log',
].join('\n')

/** Makes sure `mux` exists in the instance, installing it; throws one line when it cannot. */
export async function ensureMux(
  client: IncusClient,
  instance: string,
  project: string,
  mux: TermMux,
  notice: (line: string) => void,
): Promise<void> {
  const check = await run(client, instance, project, [
    '/bin/sh',
    '-c',
    'command -v "$1"',
    'sh',
    mux,
  ])
  if (check.code === 0) return
  notice(`Installing ${mux} in ${instance} for the persistent session`)
  const res = await run(client, instance, project, ['/bin/sh', '-c', INSTALL, 'sh', mux], {
    limit: 16 << 10,
  })
  logger.debug(`install ${mux} in ${instance}: exit ${res.code} ${res.stdout.trim()}`)
  if (res.code === 0) return
  const reason = res.stdout.trim().split('\n').pop() || `exit status ${res.code}`
  throw new BurrowError(
    `Failed to start a persistent session: ${mux} is not installed in ${instance} and installing it failed (${reason}); install ${mux} in the instance${mux === 'screen' ? ' or use --term-mux tmux' : ''}`,
  )
}
