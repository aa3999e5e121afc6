/** How to start this same burrow again: the compiled binary, or bun running the sources. */

/** running as the `bun build --compile` executable (not `bun src/cli.ts`) */
export const compiled = () => Bun.main.startsWith('/$bunfs/') || Bun.main.startsWith('B:/~BUN/')

export function selfArgv(): string[] {
  return compiled() ? [process.execPath] : [process.execPath, Bun.main]
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`

/** selfArgv() shell-quoted, for ssh's ProxyCommand (run through $SHELL -c). */
export function selfCommand(): string {
  return selfArgv().map(q).join(' ')
}
