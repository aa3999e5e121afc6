/**
 * The README's first command, for real: `bash scripts/demo` provisions what it needs, builds,
 * installs burrow and the system drop-in, and runs ssh, scp and sftp through a unix-socket sshd.
 * Afterwards the drop-in is removed again (and the binary, if the test installed it), so the
 * other suites see the machine as before.
 */
import { afterAll, expect, test } from 'bun:test'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = join(import.meta.dir, '../..')
const BIN = '/usr/local/bin/burrow'
const DROP_IN = '/etc/ssh/ssh_config.d/20-burrow.conf'
const hadBin = existsSync(BIN)
const hadDropIn = existsSync(DROP_IN)

afterAll(() => {
  if (!hadDropIn && existsSync(BIN)) Bun.spawnSync([BIN, 'install-config', '--uninstall'])
  if (!hadBin) rmSync(BIN, { force: true })
})

test('scripts/demo runs the main job end to end', async () => {
  const p = Bun.spawn(['bash', 'scripts/demo'], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ])
  if (code !== 0) console.error(err.slice(-3000))
  expect(code).toBe(0)
  expect(out).toMatch(/hello from .* over a unix socket, fd passed to ssh/)
  expect(out).toContain('16 MiB copied byte-exact')
  expect(out).toMatch(/burrow \S+ is installed at \/usr\/local\/bin\/burrow/)
  expect(existsSync(DROP_IN)).toBe(true)
}, 300_000)
