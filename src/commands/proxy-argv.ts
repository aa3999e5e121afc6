/**
 * `burrow proxy` without citty, for src/proxy-main.ts. Only the plain shapes ssh's ProxyCommand
 * produces are taken here; anything else (help, unknown or bundled options, a missing or extra
 * argument) returns undefined and goes through citty (src/cli-main.ts), which owns every error
 * message and the help. proxy-argv.test.ts keeps the option set equal to proxy.ts's.
 */
import type { ProxyOptions } from '../proxy/run'

/** options of `burrow proxy` that take a value, and their aliases */
export const VALUE_OPTIONS: Record<string, 'typed' | 'wait'> = {
  '--typed': 'typed',
  '--wait': 'wait',
  '-w': 'wait',
}
/** boolean options */
export const FLAG_OPTIONS: Record<string, 'resolve' | 'pump' | 'debug'> = {
  '--resolve': 'resolve',
  '--pump': 'pump',
  '--debug': 'debug',
}

export function parseProxyArgv(argv: string[]): (ProxyOptions & { debug: boolean }) | undefined {
  const opts: Record<string, string | boolean> = {}
  const positionals: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    const value = VALUE_OPTIONS[eq < 0 ? arg : arg.slice(0, eq)]
    if (value !== undefined) {
      const text = eq < 0 ? argv[++i] : arg.slice(eq + 1)
      if (text === undefined || opts[value] !== undefined) return undefined
      opts[value] = text
    } else if (FLAG_OPTIONS[arg] !== undefined) {
      opts[FLAG_OPTIONS[arg]!] = true
    } else {
      return undefined
    }
  }
  if (positionals.length < 1 || positionals.length > 2) return undefined
  const [host, port = '22'] = positionals as [string, string?]
  return {
    host,
    port,
    typed: opts.typed as string | undefined,
    wait: opts.wait as string | undefined,
    resolve: opts.resolve === true,
    pump: opts.pump === true,
    debug: opts.debug === true,
  }
}
