// Bad input through the compiled binary: one line on stderr, exit 1, nothing on stdout, fast.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { mkdirSync, mkdtempSync, rmSync } from './fs'
import { burrow, run, BURROW } from './run'

let dir: string
let server: ReturnType<typeof Bun.listen> | undefined

beforeAll(() => {
  dir = mkdtempSync('/tmp/be-')
  chmodSync(dir, 0o755)
  mkdirSync(join(dir, 'private'), { mode: 0o755 })
  server = Bun.listen({ unix: join(dir, 'private', 'root-only.sock'), socket: { data() {} } })
  chmodSync(join(dir, 'private', 'root-only.sock'), 0o600)
})
afterAll(() => {
  server?.stop(true)
  rmSync(dir, { recursive: true, force: true })
})

const long = `unix/tmp/${'x'.repeat(300)}/s`
// run by hand (no SSH_CONNECTION), a bad route.yaml is what gets reported
const badRoute = `/tmp/burrow-bad-route-${process.pid}.yaml`
writeFileSync(badRoute, 'nonsense: [\n')
afterAll(() => rmSync(badRoute, { force: true }))

describe('bad input gets one clear line and exit 1', () => {
  test.each([
    [
      ['proxy', 'vsok/3', '22'],
      "Failed to parse host specification 'vsok/3': unknown form (did you mean vsock/3?)",
    ],
    [
      ['proxy', 'bogus:thing/x', '22'],
      "Failed to parse host specification 'bogus:thing/x': unknown form; use one of",
    ],
    [
      ['proxy', 'unix/', '22'],
      'Failed to parse unix address: the socket path is empty (use unix/PATH)',
    ],
    [['proxy', 'unix%', '22'], 'Failed to parse unix address: the socket path is empty'],
    [
      ['proxy', 'unix/tmp/burrow-no-such.sock', '22'],
      'Failed to connect to unix socket /tmp/burrow-no-such.sock: No such file or directory (is anything listening there?)',
    ],
    [
      ['proxy', 'vsock/abc', '22'],
      "Failed to parse vsock CID 'abc': expected a decimal or 0x-hex number",
    ],
    [
      ['proxy', 'vsock/99999999999', '22'],
      "Failed to parse vsock CID '99999999999': expected a decimal or 0x-hex number",
    ],
    [
      ['proxy', 'vsock/4294967296', '22'],
      "Failed to parse vsock CID '4294967296': it does not fit in 32 bits",
    ],
    [
      ['proxy', 'vsock/4294967295', '22'],
      "Failed to parse vsock CID '4294967295': VMADDR_CID_ANY (0xFFFFFFFF) names no machine",
    ],
    [
      ['proxy', 'vsock/3', 'ssh'],
      "Failed to parse vsock port 'ssh': expected a decimal or 0x-hex number",
    ],
    [
      ['proxy', 'vsock/3', '4294967295'],
      "Failed to parse vsock port '4294967295': VMADDR_PORT_ANY (0xFFFFFFFF) cannot be connected to",
    ],
    [
      ['proxy', 'example.org', '65536'],
      'Failed to parse TCP port: 65536 is out of range (1-65535)',
    ],
    [['proxy', 'example.org', 'x'], "Failed to parse TCP port: 'x' is not a decimal number"],
    [
      ['proxy', 'unix/tmp/a\nb', '22'],
      'Failed to parse host specification "unix/tmp/a\\nb": it contains a control character (NUL, newline, …)',
    ],
    [
      ['proxy', long, '22'],
      `Failed to connect to unix socket /${long.slice(5)}: File name too long`,
    ],
    [
      ['proxy', '-w', 'soon', 'unix/x', '22'],
      "Failed to parse -w 'soon': expected a positive number of seconds",
    ],
    [['proxy', '--bogus', 'unix/x'], "Failed to parse arguments: unknown option '--bogus'"],
    [['proxy'], "Missing required positional argument: HOST (see 'burrow proxy --help')"],
    [
      ['frobnicate'],
      "Failed to run 'frobnicate': no such command; commands: proxy, install-config, serve, route",
    ],
    [['prxy'], "Failed to run 'prxy': no such command (did you mean 'proxy'?)"],
    [
      ['proxy', 'unix', '22'],
      "Failed to parse host specification 'unix': the separator is missing (expected unix/PATH or unix%PATH)",
    ],
    [
      ['proxy', 'vsock-mux', '22'],
      "Failed to parse host specification 'vsock-mux': the separator is missing (expected vsock-mux/PATH or vsock-mux%PATH)",
    ],
    [
      ['proxy', 'unix/x', '22', '33'],
      "Failed to parse arguments: unexpected argument '33' (takes at most 2)",
    ],
    [
      ['proxy', '-w', '1', 'unix/x', '22', 'extra'],
      "Failed to parse arguments: unexpected argument 'extra' (takes at most 2)",
    ],
    [
      ['install-config', 'extra'],
      "Failed to parse arguments: unexpected argument 'extra' (takes at most 0)",
    ],
    [
      ['proxy', '127.0.0.1', '1'],
      'Failed to connect to 127.0.0.1 port 1: Connection refused (nothing listens on that port)',
    ],
    [
      ['route', '--config', badRoute],
      `Failed to load ${badRoute}:2:1: Flow sequence in block collection`,
    ],
    [
      ['route', '--config', '/tmp/burrow-no-such-route.yaml'],
      'Failed to read /tmp/burrow-no-such-route.yaml: no such file',
    ],
  ])('burrow %p', async (args, message) => {
    const r = await burrow(args, { timeoutMs: 10_000, env: { SSH_CONNECTION: '' } })
    expect(r.stdout).toBe('')
    expect(r.stderr.split('\n').length).toBe(2)
    expect(r.stderr).toStartWith(`burrow: ${message}`)
    expect(r.code).toBe(1)
  })

  test.each([
    ['a regular file', 'file', 'a regular file'],
    ['a directory', 'private', 'a directory'],
  ])('a path that is %s gets no "nothing accepts" hint', async (_, name, kind) => {
    const path = join(dir, name)
    if (name === 'file') writeFileSync(path, 'x')
    const r = await burrow(['proxy', `unix%${path}`, '22'])
    expect(r.stderr).toBe(
      `burrow: Failed to connect to unix socket ${path}: Connection refused (${path} is ${kind}, not a socket)\n`,
    )
    expect(r.code).toBe(1)
  })

  test('a socket nobody accepts on keeps the hint', async () => {
    const path = join(dir, 'dead.sock')
    const r0 = await run([
      'python3',
      '-c',
      `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(path)})`,
    ])
    expect(r0.code).toBe(0)
    const r = await burrow(['proxy', `unix%${path}`, '22'])
    expect(r.stderr).toBe(
      `burrow: Failed to connect to unix socket ${path}: Connection refused (the socket file exists but nothing accepts on it)\n`,
    )
  })

  test('permission denied on a root-only socket names what to do', async () => {
    const sock = join(dir, 'private', 'root-only.sock')
    const r = await run(['runuser', '-u', 'nobody', '--', BURROW, 'proxy', `unix%${sock}`, '22'])
    expect(r.stderr).toBe(
      `burrow: Failed to connect to unix socket ${sock}: Permission denied (run as a user who may open it)\n`,
    )
    expect(r.code).toBe(1)
  })

  test('--debug logs go to stderr; stdout carries only the stream', async () => {
    const sock = join(dir, 'private', 'root-only.sock')
    const r = await burrow(['proxy', '--debug', '-w', '1', `unix%${sock}`, '22'], { stdin: '' })
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain(`connected to unix%${sock}, relaying stdin/stdout`)
    expect(r.stderr).toContain('relay ended: ')
    expect(r.code).toBe(0)
  })
})
