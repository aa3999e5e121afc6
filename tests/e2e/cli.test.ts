// The command-line surface of the compiled binary.
import { describe, expect, test } from 'bun:test'
import pkg from '../../package.json' with { type: 'json' }
import { join } from 'node:path'
import { mkdtempSync, rmSync, writeFileSync } from './fs'
import { BURROW, burrow, run } from './run'

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

  test.each([['proxy'], ['install-config'], ['serve'], ['route']])(
    '%s --help shows its usage',
    async (cmd) => {
      const r = await burrow([cmd, '--help'])
      expect(r.code).toBe(0)
      expect(r.stdout).toContain(`burrow ${cmd}`)
      expect(r.stdout).toContain('USAGE')
    },
  )

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

  // run() sets NO_COLOR=1; env -u clears it and everything else citty reads (CI, TEST, TERM=dumb)
  const plainEnv = ['env', '-u', 'NO_COLOR', '-u', 'CI', '-u', 'TEST', 'TERM=xterm-256color']
  test.each([['proxy'], ['install-config'], ['serve'], ['route']])(
    '%s --help into a pipe has no ANSI colours',
    async (cmd) => {
      const r = await run([...plainEnv, BURROW, cmd, '--help'])
      expect(r.code).toBe(0)
      expect(r.stdout).toContain('USAGE')
      expect(r.stdout).not.toContain('\x1b[')
    },
  )

  test('--help on a terminal keeps them', async () => {
    const r = await run([...plainEnv, 'script', '-qec', `${BURROW} proxy --help`, '/dev/null'])
    expect(r.stdout).toContain('\x1b[')
  })

  test("a .env or bunfig.toml in the working directory does not reach burrow (ssh runs it in the user's directory)", async () => {
    const dir = mkdtempSync('/tmp/bpx-cwd-')
    try {
      writeFileSync(join(dir, '.env'), 'BURROW_DEBUG=1\n')
      writeFileSync(join(dir, 'bunfig.toml'), 'preload = ["./evil.ts"]\n')
      writeFileSync(join(dir, 'evil.ts'), 'console.error("evil ran")\n')
      const r = await run(
        ['env', '-u', 'BURROW_DEBUG', BURROW, 'proxy', `unix%${dir}/none`, '22'],
        { cwd: dir },
      )
      expect(r.stderr).toBe(
        `burrow: Failed to connect to unix socket ${dir}/none: No such file or directory (is anything listening there?)\n`,
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
