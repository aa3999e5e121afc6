// `burrow route connect`: the ProxyCommand route gives ssh for TCP destinations (src/route/connect.ts).
import { expect, test } from 'bun:test'
import net from 'node:net'
import * as libc from '../../src/core/ffi/libc'
import { BURROW } from './support'

const IPPROTO_TCP = 6
const TCP_NODELAY = 1

async function listen(
  onConnect: (s: net.Socket) => void,
): Promise<{ srv: net.Server; port: number }> {
  const srv = net.createServer(onConnect).listen(0, '127.0.0.1')
  await new Promise((r) => srv.once('listening', r))
  return { srv, port: (srv.address() as net.AddressInfo).port }
}

test('hands ssh a connected socket with Nagle off; --quiet prints nothing when the port is closed', async () => {
  const { srv, port } = await listen((s) => s.end('SSH-2.0-test\r\n'))
  const [mine, theirs] = libc.socketpair()
  try {
    const p = Bun.spawn(
      [BURROW, 'route', 'connect', '--quiet', '--wait', '2', '127.0.0.1', String(port)],
      { stdin: 'ignore', stdout: theirs, stderr: 'pipe' },
    )
    const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()])
    expect(err).toBe('')
    expect(code).toBe(0)
    const fd = libc.recvFd(mine)!
    expect(fd).toBeGreaterThan(2)
    expect(libc.getsockoptInt(fd, IPPROTO_TCP, TCP_NODELAY)).toBe(1)
    // it is the server's connection: its banner arrives on it
    const buf = new Uint8Array(64)
    let n = -1
    for (let i = 0; i < 100 && n <= 0; i++) {
      n = libc.tryRead(fd, buf)
      if (n <= 0) await Bun.sleep(20)
    }
    expect(new TextDecoder().decode(buf.subarray(0, Math.max(n, 0)))).toBe('SSH-2.0-test\r\n')
    libc.close(fd)
  } finally {
    libc.close(mine)
    libc.close(theirs)
  }
  await new Promise((r) => srv.close(r))
  // the port is closed now
  const quiet = Bun.spawn([BURROW, 'route', 'connect', '--quiet', '127.0.0.1', String(port)], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  })
  expect(await quiet.exited).toBe(255)
  expect(await new Response(quiet.stderr).text()).toBe('')
  const loud = Bun.spawn([BURROW, 'route', 'connect', '127.0.0.1', String(port)], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  })
  expect(await loud.exited).not.toBe(0)
  expect(await new Response(loud.stderr).text()).toContain(
    `Failed to connect to 127.0.0.1 port ${port}`,
  )
})
