/**
 * `burrow proxy HOST PORT` as ssh runs it, for every connection: a separate entrypoint of the
 * compiled binary (scripts/compile.ts) that holds only the proxy, so start-up loads neither citty
 * nor the other commands (bench/proxy: ~5 ms of CPU less per start). undefined: not a plain proxy
 * invocation, src/cli-main.ts takes it.
 */
import { parseProxyArgv } from './commands/proxy-argv'
import { setDebug } from './core/log'
import { runProxy } from './proxy/run'
import { report } from './core/report'

export async function main(argv: string[]): Promise<number | undefined> {
  const opts = parseProxyArgv(argv.slice(1))
  if (!opts) return undefined
  setDebug(opts.debug)
  try {
    return await runProxy(opts)
  } catch (err) {
    return report(err, argv)
  }
}
