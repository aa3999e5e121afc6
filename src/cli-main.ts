/** Every command through citty (src/core/cli.ts): a separate entrypoint, loaded by src/cli.ts. */
import { run } from './core/cli'
import { main as root } from './main'

export const main = (argv: string[]): Promise<number> => run(root, argv)
