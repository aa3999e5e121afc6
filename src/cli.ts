/**
 * The executable's entry: only a dispatcher. `burrow proxy …` (every ssh connection) loads the
 * proxy entrypoint alone; everything else, and any proxy invocation it does not take, loads the
 * citty CLI. Both are separate entrypoints of the compiled binary (scripts/compile.ts): code
 * bundled into the entry costs start-up even when it never runs.
 */
import { entryUrl } from './core/self'

type Entry = { main(argv: string[]): Promise<number | undefined> }

const load = async (name: string): Promise<Entry> => (await import(entryUrl(name))) as Entry

const argv = process.argv.slice(2)
const code = argv[0] === 'proxy' ? await (await load('proxy-main')).main(argv) : undefined
process.exitCode = code ?? (await (await load('cli-main')).main(argv))
