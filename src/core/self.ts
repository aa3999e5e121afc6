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

/**
 * The URL of a module that is its own entrypoint of the compiled binary (scripts/compile.ts),
 * given by its path under src/ without extension: code bundled into an entrypoint costs start-up
 * even when it never runs. From the sources, the .ts file itself.
 */
export function entryUrl(path: string): string {
  // every entrypoint lies under /$bunfs/root/, named by its path under src/
  return compiled() ? `/$bunfs/root/${path}.js` : new URL(`../${path}.ts`, import.meta.url).href
}
