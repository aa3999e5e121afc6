// install-config writes, verifies with the real `ssh -G`, refuses foreign files, uninstalls.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from './fs'
import { BURROW, burrow, run } from './run'

let dir: string
beforeAll(() => {
  dir = mkdtempSync('/tmp/bi-')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('install-config (system mode under --root)', () => {
  const root = () => join(dir, 'sys')
  const fragment = () => join(root(), 'etc/ssh/ssh_config.d/20-burrow.conf')

  test('writes the fragment, and ssh -G confirms it takes effect', async () => {
    const r = await burrow(['install-config', '--root', root(), '--binary', BURROW])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain(`wrote ${fragment()}`)
    expect(r.stderr).toContain(
      `ssh -G vsock%4711 uses it: proxycommand '${BURROW}' proxy --typed '%n' '%h' %p`,
    )
    const text = readFileSync(fragment(), 'utf8')
    expect(text).toContain(
      'Match host .host,unix/*,unix%*,vsock/*,vsock%*,vsock-mux/*,vsock-mux%*,machine/*,machine%*,qemu/*,qemu%*',
    )
    expect(text).toContain('incus/*,incus%*')
    expect(text).toContain('    ProxyUseFdpass yes')
    expect(text).toContain('    CheckHostIP no')
  })

  test.each([
    ['vsock/4711'],
    ['vsock%4711'],
    ['unix/run/x'],
    ['vsock-mux%/run/v.sock'],
    ['.host'],
    ['machine/vm'],
    ['machine%.host'],
    ['qemu:system/vm'],
    ['qemu/vm'],
    ['incus/ct'],
  ])('ssh -G %s picks up the ProxyCommand', async (host) => {
    const cfg = join(dir, 'include.conf')
    writeFileSync(cfg, `Include ${fragment()}\n`)
    const r = await run(['ssh', '-G', '-F', cfg, host])
    expect(r.stdout).toContain(`proxycommand '${BURROW}' proxy --typed '%n' '%h' %p\n`)
    expect(r.stdout).toContain('proxyusefdpass yes\n')
  })

  // OpenSSH's defaults: stricthostkeychecking ask, known hosts in ~/.ssh and /etc/ssh
  test.each([
    ['.host', 'checked'],
    ['machine/.host', 'checked'],
    ['machine%.host', 'checked'],
    ['qemu/vm', 'checked'],
    ['qemu%vm', 'checked'],
    ['qemu:system/vm', 'checked'],
    ['qemu:session%vm', 'checked'],
    ['unix/run/x', 'not recorded'],
    ['unix%/run/x', 'not recorded'],
    ['vsock/3', 'not recorded'],
    ['vsock%3', 'not recorded'],
    ['vsock-mux/run/v', 'not recorded'],
    ['vsock-mux%/run/v', 'not recorded'],
    ['machine/vm', 'not recorded'],
    ['machine%vm', 'not recorded'],
    ['incus/ct', 'not recorded'],
  ])('host keys of %s are %s', async (host, policy) => {
    const cfg = join(dir, 'include.conf')
    writeFileSync(cfg, `Include ${fragment()}\n`)
    const r = await run(['ssh', '-G', '-F', cfg, host])
    if (policy === 'checked') {
      expect(r.stdout).toContain('\nstricthostkeychecking ask\n')
      expect(r.stdout).not.toContain('/dev/null')
    } else {
      expect(r.stdout).toContain('\nstricthostkeychecking false\n')
      expect(r.stdout).toContain('\nuserknownhostsfile /dev/null\n')
      expect(r.stdout).toContain('\nglobalknownhostsfile /dev/null\n')
    }
  })

  test('plain host names are left alone', async () => {
    const cfg = join(dir, 'include.conf')
    const r = await run(['ssh', '-G', '-F', cfg, 'example.org'])
    expect(r.stdout).not.toContain('proxycommand')
  })

  test('running it again changes nothing', async () => {
    const before = readFileSync(fragment(), 'utf8')
    const r = await burrow(['install-config', '--root', root(), '--binary', BURROW])
    expect(r.stderr).toContain('is already up to date')
    expect(readFileSync(fragment(), 'utf8')).toBe(before)
  })

  test('--strict-host-keys leaves host-key checking on', async () => {
    const r = await burrow(['install-config', '--print', '--strict-host-keys', '--binary', BURROW])
    expect(r.stdout).not.toContain('StrictHostKeyChecking')
    const loose = await burrow(['install-config', '--print', '--binary', BURROW])
    expect(loose.stdout).toContain('StrictHostKeyChecking no')
  })

  test('--print writes the fragment to stdout and nothing to disk', async () => {
    const r = await burrow([
      'install-config',
      '--print',
      '--root',
      join(dir, 'never'),
      '--binary',
      BURROW,
    ])
    expect(r.stdout).toStartWith('# burrow-managed')
    expect(existsSync(join(dir, 'never'))).toBe(false)
  })

  test('refuses to overwrite or remove a file it did not write', async () => {
    const other = join(dir, 'other')
    mkdirSync(join(other, 'etc/ssh/ssh_config.d'), { recursive: true })
    const path = join(other, 'etc/ssh/ssh_config.d/20-burrow.conf')
    writeFileSync(path, 'Host *\n    User me\n')
    const r = await burrow(['install-config', '--root', other, '--binary', BURROW])
    expect(r.stderr).toBe(
      `burrow: Failed to write ${path}: the file exists and was not written by burrow (move it away first)\n`,
    )
    expect(r.code).toBe(1)
    const u = await burrow(['install-config', '--uninstall', '--root', other])
    expect(u.code).toBe(1)
    expect(readFileSync(path, 'utf8')).toBe('Host *\n    User me\n')
  })

  test('--uninstall removes it, and a second --uninstall says so', async () => {
    const r = await burrow(['install-config', '--uninstall', '--root', root()])
    expect(r.stderr).toContain(`removed ${fragment()}`)
    expect(existsSync(fragment())).toBe(false)
    const again = await burrow(['install-config', '--uninstall', '--root', root()])
    expect(again.stderr).toContain('is not installed')
    expect(again.code).toBe(0)
  })
})

describe('install-config --user', () => {
  test('writes ~/.ssh/burrow.conf, puts the Include first, and undoes both', async () => {
    const home = join(dir, 'home')
    mkdirSync(join(home, '.ssh'), { recursive: true })
    const config = join(home, '.ssh/config')
    writeFileSync(config, 'Host work\n    User alice\n')
    const env = { HOME: home }
    const r = await burrow(['install-config', '--user', '--binary', BURROW], { env })
    expect(r.code).toBe(0)
    const text = readFileSync(config, 'utf8')
    expect(text).toBe(`Include ${home}/.ssh/burrow.conf\nHost work\n    User alice\n`)
    expect(r.stderr).toContain('ssh -G vsock%4711 uses it')
    const g = await run(['ssh', '-G', '-F', config, 'vsock%3'])
    expect(g.stdout).toContain('proxyusefdpass yes\n')
    const again = await burrow(['install-config', '--user', '--binary', BURROW], { env })
    expect(again.stderr).toContain('already includes it')
    const u = await burrow(['install-config', '--user', '--uninstall'], { env })
    expect(u.code).toBe(0)
    expect(readFileSync(config, 'utf8')).toBe('Host work\n    User alice\n')
    expect(existsSync(join(home, '.ssh/burrow.conf'))).toBe(false)
  })
})
