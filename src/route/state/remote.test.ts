// RemoteState against a stand-in state service on a unix socket (the real service and real
// sessions: tests/route/users*.test.ts): what a session does when the service goes away.
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Socket } from 'bun'
import { waitFor } from '../../../tests/route/support'
import { LineSplitter, type Request } from './protocol'
import { RemoteState } from './remote'
import type { Connection } from './types'

const dir = mkdtempSync('/tmp/brt-remote-')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A service that answers every request with null, records them, and can refuse connections. */
function service(path: string, opts: { refuse?: () => boolean } = {}) {
  const seen: Request[] = []
  const clients = new Set<Socket<{ lines: LineSplitter }>>()
  const server = Bun.listen<{ lines: LineSplitter }>({
    unix: path,
    socket: {
      open(s) {
        s.data = { lines: new LineSplitter() }
        if (opts.refuse?.()) {
          s.write(
            `${JSON.stringify({ id: 0, e: 'Failed to connect to the state service: too many connections' })}\n`,
          )
          return void s.end()
        }
        clients.add(s)
      },
      data(s, chunk) {
        for (const line of s.data.lines.push(chunk)) {
          const req = JSON.parse(line) as Request
          seen.push(req)
          const r = req.op === 'hello' ? { user: 'u', store: 'embedded', location: 'x' } : null
          s.write(`${JSON.stringify({ id: req.id, r })}\n`)
        }
      },
      close(s) {
        clients.delete(s)
      },
    },
  })
  return {
    seen,
    stop() {
      for (const c of clients) c.end()
      server.stop(true)
    },
  }
}

const conn: Connection = {
  id: 'ABCDEF0123',
  user: 'u',
  service: 's',
  dest: 'h:22',
  from: 'a:1',
  sshd: 'b:2',
  gateway: 'g',
  start: 1000,
  bwIn: 0,
  bwOut: 0,
}
const registers = (seen: Request[]) => seen.filter((r) => r.op === 'register')

describe('a session whose state service restarts', () => {
  test('registers the same session again, once, also when the first attempts are refused', async () => {
    const path = join(dir, 'a.sock')
    const first = service(path)
    const state = await RemoteState.connect(path)
    const reg = await state.register(conn, 0, 'cmd')
    reg.setBandwidth(5, 6)
    first.stop()
    rmSync(path, { force: true })
    // the new service refuses the first two connections (as a full service does)
    let refusals = 2
    const second = service(path, { refuse: () => refusals-- > 0 })
    await waitFor('the session to register again', () => registers(second.seen).length > 0)
    // a chain that restarted on every refusal would register more than once
    await Bun.sleep(3000)
    expect(registers(second.seen).map((r) => r.a)).toEqual([
      { c: conn, command: 'cmd', again: true },
    ])
    expect(second.seen.find((r) => r.op === 'bandwidth')?.a).toEqual({ in: 5, out: 6 })
    await reg.close(0)
    expect(second.seen.at(-1)).toMatchObject({ op: 'unregister', a: { exit: 0 } })
    state.close()
    second.stop()
  }, 20_000)

  test('a session that ended, or a closed state, does not come back', async () => {
    const path = join(dir, 'b.sock')
    const first = service(path)
    const state = await RemoteState.connect(path)
    const reg = await state.register(conn, 0)
    await reg.close(0)
    first.stop()
    rmSync(path, { force: true })
    const second = service(path)
    await Bun.sleep(1500)
    expect(second.seen).toEqual([])
    state.close()
    second.stop()
  }, 10_000)
})
