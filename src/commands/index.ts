/**
 * Subcommands, loaded lazily; the object has no prototype so user input cannot reach one.
 * proxy and install-config are bundled in (literal specifiers). serve and route (ssh2, yaml,
 * bun:sqlite, …) are extra entrypoints of the compiled binary (scripts/compile.ts), loaded by
 * path: bundled in, even never-called code cost every `burrow proxy` ~4 ms of start-up.
 */
import type { CommandDef } from 'citty'
import { compiled } from '../core/self'

// biome-ignore lint/suspicious/noExplicitAny: each command has its own args type; citty takes any
type Loader = () => Promise<CommandDef<any>>

const separate =
  (name: string): Loader =>
  async () => {
    // the executable is /$bunfs/root/burrow and the entrypoint /$bunfs/root/commands/NAME.js
    const url = compiled()
      ? new URL(`./commands/${name}.js`, import.meta.url)
      : new URL(`./${name}.ts`, import.meta.url)
    return ((await import(url.href)) as { default: Awaited<ReturnType<Loader>> }).default
  }

export const commands: Record<string, Loader> = Object.assign(Object.create(null), {
  proxy: () => import('./proxy').then((m) => m.default),
  'install-config': () => import('./install-config').then((m) => m.default),
  serve: separate('serve'),
  route: separate('route'),
})
