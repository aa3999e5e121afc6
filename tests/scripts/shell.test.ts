/**
 * The shell scripts: shellcheck passes on every one (a branch that never ran here can still
 * fail on a fresh machine, as 45-serve-files.sh did by calling `run` without `$LOG`), and the
 * provisioning helpers work from a bare shell, the way each provision.d script uses them.
 */
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = join(import.meta.dir, '../..')
const LIB = join(ROOT, 'scripts/lib/provision.sh')

function shellScripts(): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const rel = join(dir, name)
      const st = statSync(join(ROOT, rel))
      if (st.isDirectory()) walk(rel)
      else if (
        /\.sh$/.test(name) ||
        /^#!.*\b(ba)?sh\b/.test(readFileSync(join(ROOT, rel), 'utf8').split('\n')[0]!)
      )
        out.push(rel)
    }
  }
  for (const d of ['scripts', '.ci', 'packaging']) walk(d)
  return out.sort()
}

describe('shellcheck', () => {
  const scripts = shellScripts()
  test('finds the scripts', () => {
    for (const s of [
      'scripts/provision',
      'scripts/test',
      'scripts/demo',
      '.ci/run',
      'scripts/lib/provision.sh',
    ])
      expect(scripts).toContain(s)
    expect(
      scripts.filter((s) => s.startsWith('scripts/provision.d/')).length,
    ).toBeGreaterThanOrEqual(4)
  })
  test.each(scripts)('%s', (script) => {
    const p = Bun.spawnSync(['shellcheck', '-x', '--severity=style', script], { cwd: ROOT })
    expect(p.stdout.toString() + p.stderr.toString()).toBe('')
    expect(p.exitCode).toBe(0)
  })
})

/** runs a snippet after sourcing the helpers, in a shell with nothing else set up */
function lib(snippet: string, env: Record<string, string> = {}) {
  const p = Bun.spawnSync(['bash', '-c', `set -euo pipefail; . ${LIB}; ${snippet}`], {
    env: { PATH: process.env.PATH!, ...env },
  })
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() }
}

describe('scripts/lib/provision.sh', () => {
  test('run needs no caller-provided log file, and reports the failing step with its output', () => {
    const ok = lib(`run "echo" echo hi; echo after`)
    expect(ok).toMatchObject({ code: 0, out: 'after\n' })
    const bad = lib(`run "the step" sh -c 'echo why >&2; exit 3'; echo unreachable`)
    expect(bad.code).not.toBe(0)
    expect(bad.out).toBe('')
    expect(bad.err).toContain('why')
    expect(bad.err).toContain('provision: FAILED: the step (exit 3)')
  })
  test.each([
    [{}, '0'],
    [{ CI: 'true' }, '1'],
    [{ CI: 'true', BURROW_PROVISION_FORCE: '0' }, '0'],
    [{ BURROW_PROVISION_FORCE: '1' }, '1'],
  ])('forced mode %p -> %s', (env, want) => {
    expect(lib('echo "$BURROW_PROVISION_FORCE"', env as Record<string, string>).out).toBe(
      `${want}\n`,
    )
  })
  test('ensure_packages skips installed packages unless forced (then apt-get runs for them)', () => {
    // a stand-in apt-get records what it was asked (installing nothing); dpkg-query is the real one
    const calls = `/tmp/burrow-apt-calls.${process.pid}`
    const fake = `apt-get() { echo "apt-get $*" >>${calls}; }; export -f apt-get;`
    const read = () => Bun.spawnSync(['cat', calls]).stdout.toString()
    try {
      const skip = lib(`${fake} ensure_packages t bash coreutils`)
      expect(skip.code).toBe(0)
      expect(skip.err).toContain('t: all 2 packages already installed')
      expect(read()).toBe('')
      const forced = lib(`${fake} ensure_packages t --no-install-recommends -- bash`, {
        BURROW_PROVISION_FORCE: '1',
      })
      expect(forced.code).toBe(0)
      expect(forced.err).toContain('t: installing bash (forced)')
      expect(read()).toMatch(
        /^apt-get update -q\napt-get install -y -q --no-install-recommends .* bash\n$/,
      )
    } finally {
      Bun.spawnSync(['rm', '-f', calls])
    }
  })
})
