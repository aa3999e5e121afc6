/**
 * Runs the citty command tree with burrow's own top level instead of citty's runMain, which
 * prints usage to stdout on bad input and stack traces on errors. Here every failure is one line
 * on stderr and exit status 1; only --help and --version write to stdout.
 */
import type { ArgsDef, CommandDef } from 'citty'
import { renderUsage, runCommand } from 'citty'
import { BurrowError } from './errors'
import { logger } from './log'

type Cmd = CommandDef<ArgsDef>

const resolve = async <T>(v: unknown): Promise<T> => (typeof v === 'function' ? v() : v) as T

/** The command path named by `argv` (root first) and the remaining arguments. */
async function walk(root: Cmd, argv: string[]): Promise<{ path: Cmd[]; names: string[]; unknown?: string }> {
  const path = [root]
  const names: string[] = []
  for (const arg of argv) {
    if (arg.startsWith('-')) continue
    const subs = await resolve<Record<string, unknown> | undefined>(path.at(-1)!.subCommands)
    if (!subs) break
    if (!Object.hasOwn(subs, arg)) return { path, names, unknown: arg }
    path.push(await resolve<Cmd>(subs[arg]))
    names.push(arg)
  }
  return { path, names }
}

/** Flags the leaf command does not define are errors, not silently ignored booleans. */
async function checkFlags(cmd: Cmd, argv: string[]): Promise<void> {
  const defs = (await resolve<ArgsDef>(cmd.args)) ?? {}
  const known = new Set(['help', 'h'])
  for (const [name, def] of Object.entries(defs)) {
    known.add(name)
    for (const a of [(def as { alias?: string | string[] }).alias ?? []].flat()) known.add(a as string)
  }
  for (const arg of argv) {
    if (arg === '--') break
    const m = /^--?(?:no-)?([^=]+)/.exec(arg)
    if (m && arg !== '-' && !known.has(m[1]!) && !(arg.length > 2 && arg[1] !== '-' && [...arg.slice(1)].every((c) => known.has(c)))) {
      throw new BurrowError(`Failed to parse arguments: unknown option '${arg}'`)
    }
  }
}

export async function run(root: Cmd, argv: string[]): Promise<number> {
  try {
    const meta = await resolve<{ version?: string }>(root.meta)
    if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
      process.stdout.write(`${meta.version}\n`)
      return 0
    }
    const { path, names, unknown } = await walk(root, argv)
    const leaf = path.at(-1)!
    if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
      process.stdout.write(`${await renderUsage(leaf, path.length > 1 ? path.at(-2) : undefined)}\n`)
      return argv.length === 0 ? 1 : 0
    }
    if (unknown !== undefined && path.length === 1) {
      const subs = Object.keys((await resolve<Record<string, unknown>>(root.subCommands)) ?? {})
      const guess = subs.find((s) => s.startsWith(unknown.slice(0, 2)))
      throw new BurrowError(
        `Failed to run '${unknown}': no such command${guess ? ` (did you mean '${guess}'?)` : ''}; commands: ${subs.join(', ')}`,
      )
    }
    await checkFlags(leaf, argv.slice(argv.indexOf(names.at(-1) ?? '') + 1))
    const { result } = await runCommand(root, { rawArgs: argv })
    return typeof result === 'number' ? result : 0
  } catch (err) {
    return report(err, argv)
  }
}

function report(err: unknown, argv: string[]): number {
  if (err instanceof BurrowError) {
    process.stderr.write(`burrow: ${err.message}\n`)
  } else if (err instanceof Error && err.name === 'CLIError') {
    const cmd = argv.find((a) => !a.startsWith('-'))
    const help = cmd ? `burrow ${cmd} --help` : 'burrow --help'
    process.stderr.write(`burrow: ${err.message.replace(/\x1b\[[0-9;]*m/g, '')} (see '${help}')\n`)
  } else {
    process.stderr.write(`burrow: unexpected error: ${err instanceof Error ? err.message : String(err)} (rerun with BURROW_DEBUG=1 and report it)\n`)
  }
  logger.debug(err)
  return 1
}
