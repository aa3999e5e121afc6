/**
 * Subcommands, loaded lazily so `burrow proxy` never evaluates ssh2. Literal specifiers keep
 * them inside the compiled binary; the object has no prototype so user input cannot reach one.
 */
import type { CommandDef } from 'citty'

type Loader = () => Promise<CommandDef<any>>

export const commands: Record<string, Loader> = Object.assign(Object.create(null), {
  proxy: () => import('./proxy').then((m) => m.default),
  'install-config': () => import('./install-config').then((m) => m.default),
  serve: () => import('./serve').then((m) => m.default),
  route: () => import('./route').then((m) => m.default),
})
