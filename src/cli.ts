/**
 * The executable's entry: `burrow proxy …` (every ssh connection) runs the proxy, bundled into
 * this entry (loading it as a separate entrypoint cost ~2 ms more per start, measured); everything
 * else, and any proxy invocation it does not take, loads the citty CLI, a separate entrypoint of
 * the compiled binary (scripts/compile.ts): code bundled into the entry costs start-up even when
 * it never runs.
 */
import { main as proxyMain } from './proxy-main'
import { entryUrl } from './core/self'

type Entry = { main(argv: string[]): Promise<number | undefined> }

const load = async (name: string): Promise<Entry> => (await import(entryUrl(name))) as Entry

const argv = process.argv.slice(2)
const code = argv[0] === 'proxy' ? await proxyMain(argv) : undefined
process.exitCode = code ?? (await (await load('cli-main')).main(argv))
