/**
 * Commands that need a program inside the instance: legacy `scp -O` runs `scp -t`/`scp -f`
 * there, rsync runs `rsync --server`. When the program is missing the shell's "not found" reaches
 * the client mixed into the protocol; say clearly what is missing instead.
 */

const NEEDS: [RegExp, string, string][] = [
  [
    /^scp(\s+-[A-Za-z]+)*\s+-[a-zA-Z]*[tf]/,
    'scp',
    'install openssh-client there, or use scp without -O (it uses SFTP)',
  ],
  [/^rsync\s+--server\b/, 'rsync', 'install rsync there'],
]

/** `command` with a check in front when it is one of those; the command itself is unchanged. */
export function withToolCheck(command: string, instance: string): string {
  const found = NEEDS.find(([re]) => re.test(command.trimStart()))
  if (!found) return command
  const [, tool, hint] = found
  const msg = `burrow: Failed to run ${tool} in instance ${instance}: ${tool} is not installed there (${hint})`
  return `command -v ${tool} >/dev/null 2>&1 || { echo '${msg}' >&2; exit 127; }\n${command}`
}
