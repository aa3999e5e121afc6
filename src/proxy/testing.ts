/** Small live peers for backend tests: real listeners on unix sockets and loopback TCP. */
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'bun:test'
import type { Stream } from './backend'
import * as libc from '../core/ffi/libc'

/** A listener on a fresh unix socket path that greets every connection with `hello\n`. */
export function helloUnix() {
  const dir = mkdtempSync('/tmp/burrow-t-')
  const path = join(dir, 'hello.sock')
  const server = Bun.listen({
    unix: path,
    socket: { open: (s) => void s.write('hello\n'), data() {} },
  })
  return {
    path,
    stop: async () => {
      server.stop(true)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export function helloTcp() {
  const server = Bun.listen({
    hostname: '127.0.0.1',
    port: 0,
    socket: { open: (s) => void s.write('hello\n'), data() {} },
  })
  return { port: server.port, stop: async () => server.stop(true) }
}

/** Reads the greeting through the stream's fd (blocking reads are fine: the peer already wrote). */
export async function expectHello(stream: Stream): Promise<void> {
  const buf = new Uint8Array(6)
  let got = 0
  const deadline = Date.now() + 3000
  while (got < 6 && Date.now() < deadline) {
    await Bun.sleep(10)
    const n = libc.tryRecv(stream.fd, buf, 0x40 /* MSG_DONTWAIT */, got)
    if (n > 0) got += n
  }
  expect(Buffer.from(buf.subarray(0, got)).toString()).toBe('hello\n')
}
