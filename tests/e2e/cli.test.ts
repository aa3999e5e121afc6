// The command-line surface of the compiled binary.
import { describe, expect, test } from 'bun:test'
import pkg from '../../package.json' with { type: 'json' }
import { burrow } from './run'

describe('burrow', () => {
  test('--version prints the package version', async () => {
    const r = await burrow(['--version'])
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' })
  })

  test('--help lists every command', async () => {
    const r = await burrow(['--help'])
    expect(r.code).toBe(0)
    for (const cmd of ['proxy', 'install-config', 'serve', 'route']) expect(r.stdout).toContain(cmd)
  })

  test.each([['proxy'], ['install-config'], ['serve'], ['route']])('%s --help shows its usage', async (cmd) => {
    const r = await burrow([cmd, '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`burrow ${cmd}`)
    expect(r.stdout).toContain('USAGE')
  })

  test.each([
    [['route', 'ctl'], 'burrow route ctl [OPTIONS]'],
    [['route', 'check'], 'burrow route check [OPTIONS]'],
    [['route', 'replay'], 'burrow route replay [OPTIONS]'],
  ])('%p --help names the whole command in its usage line', async (cmd, usage) => {
    const r = await burrow([...cmd, '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout.replace(/\x1b\[[0-9;]*m/g, '')).toContain(`USAGE ${usage}`)
  })

  test('no arguments shows usage and fails', async () => {
    const r = await burrow([])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('USAGE')
  })
})
