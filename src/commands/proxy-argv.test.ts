import { describe, expect, test } from 'bun:test'
import type { ArgsDef } from 'citty'
import { parseArgs } from 'citty'
import proxy from './proxy'
import { FLAG_OPTIONS, parseProxyArgv, VALUE_OPTIONS } from './proxy-argv'

const defs = proxy.args as ArgsDef

describe('parseProxyArgv (the citty-free path of `burrow proxy`)', () => {
  test('knows exactly the options proxy.ts defines', () => {
    const names = new Set<string>()
    for (const [name, def] of Object.entries(defs)) {
      if (def.type === 'positional') continue
      names.add(`--${name}`)
      for (const a of [(def as { alias?: string | string[] }).alias ?? []].flat())
        names.add(a.length === 1 ? `-${a}` : `--${a}`)
    }
    expect(new Set([...Object.keys(VALUE_OPTIONS), ...Object.keys(FLAG_OPTIONS)])).toEqual(names)
  })

  // whatever it takes, it must read as citty reads it
  test.each([
    [['unix%/run/x', '22']],
    [['vsock/3']],
    [['--typed', 'unix/tmp/AbC', 'unix/tmp/abc', '22']],
    [['--typed=unix/tmp/AbC', 'unix/tmp/abc', '22']],
    [['-w', '5', 'host', '2222']],
    [['--wait', '1.5', '--pump', '--resolve', 'h', '1']],
    [['--wait=3', 'h']],
    [['--debug', 'h', '22']],
    [['--', '-odd-host', '22']],
  ])('%p reads as citty reads it', (argv) => {
    const fast = parseProxyArgv(argv)
    expect(fast).toBeDefined()
    const slow = parseArgs(argv, defs) as Record<string, unknown>
    expect(fast).toEqual({
      host: slow.host as string,
      port: slow.port as string,
      typed: slow.typed as string | undefined,
      wait: slow.wait as string | undefined,
      resolve: slow.resolve === true,
      pump: slow.pump === true,
      debug: slow.debug === true,
    })
  })

  test.each([
    [[]],
    [['--help']],
    [['-h', 'x']],
    [['--bogus', 'x']],
    [['-pw', 'x']],
    [['--no-pump', 'x']],
    [['-w']],
    [['x', '22', 'extra']],
    [['-w', '1', '-w', '2', 'x']],
  ])('%p is left to citty (help and every error message live there)', (argv) => {
    expect(parseProxyArgv(argv)).toBeUndefined()
  })
})
