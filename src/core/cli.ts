/**
 * Runs the citty command tree with burrow's own top level instead of citty's runMain, which
 * prints usage to stdout on bad input and stack traces on errors. Here every failure is one line
 * on stderr and exit status 1; only --help and --version write to stdout.
 */
// writeSync, not process.stdout: Node's stdio streams cost ~5 ms to set up in Bun
import { writeSync } from 'node:fs'
import { isatty } from 'node:tty'
import type { ArgsDef, CommandDef } from 'citty'
import { renderUsage, runCommand } from 'citty'
import { BurrowError } from './errors'
import { setDebug } from './log'
import { report } from './report'

type Cmd = CommandDef<ArgsDef>

const resolve = async <T>(v: unknown): Promise<T> => (typeof v === 'function' ? v() : v) as T

/** Option names of `cmd` that take a value (`--config FILE`), aliases included. */
async function valueOptions(cmd: Cmd): Promise<Set<string>> {
  const defs = (await resolve<ArgsDef>(cmd.args)) ?? {}
  const names = new Set<string>()
  for (const [name, def] of Object.entries(defs)) {
    if (def.type !== 'string' && def.type !== 'enum') continue
    names.add(name)
    for (const a of [(def as { alias?: string | string[] }).alias ?? []].flat()) names.add(a)
  }
  return names
}

/**
 * The command path named by `argv` (root first), the leaf's own arguments, and an unknown
 * command word if one stopped the walk. citty's runCommand would run a parent's run() after its
 * subcommand's and drop the subcommand's result (its exit status), so burrow runs the leaf itself.
 */
async function walk(
  root: Cmd,
  argv: string[],
): Promise<{ path: Cmd[]; rest: string[]; unknown?: string }> {
  const path = [root]
  const rest: string[] = []
  let takesValue = await valueOptions(root)
  let positional = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (positional || arg === '--') {
      positional = true
      rest.push(arg)
      continue
    }
    if (arg.startsWith('-')) {
      rest.push(arg)
      if (!arg.includes('=') && takesValue.has(arg.replace(/^--?/, '')) && i + 1 < argv.length)
        rest.push(argv[++i]!)
      continue
    }
    const subs = await resolve<Record<string, unknown> | undefined>(path.at(-1)!.subCommands)
    if (!subs || !Object.hasOwn(subs, arg)) {
      if (subs && path.length === 1) return { path, rest, unknown: arg }
      positional = !subs // a leaf's positionals (HOST PORT) and everything after them stay as they are
      rest.push(arg)
      continue
    }
    path.push(await resolve<Cmd>(subs[arg]))
    takesValue = await valueOptions(path.at(-1)!)
  }
  return { path, rest }
}

/**
 * citty names a command in its usage line after its direct parent only (`route ctl`); a stand-in
 * parent named after the whole path makes it `burrow route ctl`.
 */
async function usageParent(path: Cmd[]): Promise<Cmd | undefined> {
  if (path.length < 2) return undefined
  const names = await Promise.all(
    path.slice(0, -1).map(async (c) => (await resolve<{ name?: string }>(c.meta))?.name ?? ''),
  )
  return { meta: { name: names.filter(Boolean).join(' ') } } as Cmd
}

/** Positionals beyond those the leaf defines are errors, not silently dropped (`proxy HOST PORT EXTRA`). */
async function checkPositionals(cmd: Cmd, argv: string[]): Promise<void> {
  const defs = Object.values((await resolve<ArgsDef>(cmd.args)) ?? {}).filter(
    (d) => d.type === 'positional',
  )
  // core/args.ts variadic(): the last positional takes the rest
  if (defs.some((d) => (d as { variadic?: boolean }).variadic)) return
  const takesValue = await valueOptions(cmd)
  const positionals: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (arg.startsWith('-') && arg !== '-') {
      if (!arg.includes('=') && takesValue.has(arg.replace(/^--?/, ''))) i++
      continue
    }
    positionals.push(arg)
  }
  const extra = positionals[defs.length]
  if (extra !== undefined) {
    throw new BurrowError(
      `Failed to parse arguments: unexpected argument '${extra}' (takes at most ${defs.length})`,
    )
  }
}

/** citty colours help whenever NO_COLOR=1, TERM=dumb, TEST and CI are unset, even into a pipe. */
function plain(text: string): string {
  const colour = isatty(1) && !process.env.NO_COLOR && process.env.TERM !== 'dumb'
  // ESC is exactly what is being removed
  // citty pads every description to the longest one
  const trimmed = text.replace(/[ \t]+$/gm, '')
  return colour ? trimmed : trimmed.replace(/\x1b\[[0-9;]*m/g, '')
}

/** Flags the leaf command does not define are errors, not silently ignored booleans. */
async function checkFlags(cmd: Cmd, argv: string[]): Promise<void> {
  const defs = (await resolve<ArgsDef>(cmd.args)) ?? {}
  const known = new Set(['help', 'h'])
  for (const [name, def] of Object.entries(defs)) {
    known.add(name)
    for (const a of [(def as { alias?: string | string[] }).alias ?? []].flat())
      known.add(a as string)
  }
  for (const arg of argv) {
    if (arg === '--') break
    const m = /^--?(?:no-)?([^=]+)/.exec(arg)
    if (
      m &&
      arg !== '-' &&
      !known.has(m[1]!) &&
      !(arg.length > 2 && arg[1] !== '-' && [...arg.slice(1)].every((c) => known.has(c)))
    ) {
      throw new BurrowError(`Failed to parse arguments: unknown option '${arg}'`)
    }
  }
}

export async function run(root: Cmd, argv: string[]): Promise<number> {
  try {
    const meta = await resolve<{ version?: string }>(root.meta)
    if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
      writeSync(1, `${meta.version}\n`)
      return 0
    }
    const { path, rest, unknown } = await walk(root, argv)
    const leaf = path.at(-1)!
    if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
      writeSync(1, `${plain(await renderUsage(leaf, await usageParent(path)))}\n`)
      return argv.length === 0 ? 1 : 0
    }
    if (unknown !== undefined && path.length === 1) {
      const subs = Object.keys((await resolve<Record<string, unknown>>(root.subCommands)) ?? {})
      const guess = subs.find((s) => s.startsWith(unknown.slice(0, 2)))
      throw new BurrowError(
        `Failed to run '${unknown}': no such command${guess ? ` (did you mean '${guess}'?)` : ''}; commands: ${subs.join(', ')}`,
      )
    }
    await checkFlags(leaf, rest)
    await checkPositionals(leaf, rest)
    setDebug(rest.includes('--debug'))
    const { result } = await runCommand(leaf, { rawArgs: rest })
    return typeof result === 'number' ? result : 0
  } catch (err) {
    return report(err, argv)
  }
}
