import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { once } from 'node:events'
import { parseConnect, startMuxPeer, type MuxBehaviour, type MuxPeer } from './mux-peer'
import { startUnixSshd, type TestSshd } from './sshd'

// Bytes pushed through the bridge in the bulk test; `MUX_PEER_BYTES=1073741824`
// for the full 1 GiB check.
const BULK_BYTES = Number(process.env.MUX_PEER_BYTES ?? 64 * 1024 * 1024)

/** Minimal buffered reader over a client socket (plain node:net, no burrow). */
class Client {
  sock: net.Socket
  buf = Buffer.alloc(0)
  chunks: Buffer[] = []
  closed = false
  private wake: (() => void) | undefined

  constructor(path: string) {
    this.sock = net.connect({ path, allowHalfOpen: true })
    this.sock.on('data', (d: Buffer) => {
      this.chunks.push(d)
      this.buf = Buffer.concat([this.buf, d])
      this.wake?.()
    })
    const onClose = () => {
      this.closed = true
      this.wake?.()
    }
    this.sock.on('end', onClose)
    this.sock.on('close', onClose)
    this.sock.on('error', onClose)
  }

  async connected() {
    if (!this.sock.connecting) return
    await once(this.sock, 'connect')
  }

  private async until(cond: () => boolean, timeoutMs: number, what: string) {
    const deadline = Date.now() + timeoutMs
    while (!cond()) {
      if (this.closed)
        throw new Error(
          `closed while waiting for ${what}; got ${JSON.stringify(this.buf.toString('latin1'))}`,
        )
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(
          `timeout waiting for ${what}; got ${JSON.stringify(this.buf.toString('latin1'))}`,
        )
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.wake = () => {
          clearTimeout(t)
          resolve()
        }
      })
      this.wake = undefined
    }
  }

  async read(n: number, timeoutMs = 5000): Promise<Buffer> {
    await this.until(() => this.buf.length >= n, timeoutMs, `${n} bytes`)
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return out
  }

  async readLine(timeoutMs = 5000): Promise<string> {
    await this.until(() => this.buf.includes(0x0a), timeoutMs, 'a line')
    const i = this.buf.indexOf(0x0a)
    return (await this.read(i + 1)).toString('latin1')
  }

  /** resolves with the bytes received before EOF/close */
  async closedWith(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open')
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20)
        this.wake = () => {
          clearTimeout(t)
          resolve()
        }
      })
    }
    return this.buf.toString('latin1')
  }

  destroy() {
    this.sock.destroy()
  }
}

const OK_LINE = /^OK (\d{10})\n$/

function expectOkLine(line: string) {
  const m = OK_LINE.exec(line)
  expect(m).not.toBeNull()
  const port = Number(m![1])
  expect(port).toBeGreaterThanOrEqual(2 ** 30)
  expect(port).toBeLessThan(2 ** 31)
}

let dir: string
let sshd: TestSshd
let echoPath: string
let echoServer: net.Server
const peers: MuxPeer[] = []

async function peer(behaviour: MuxBehaviour): Promise<MuxPeer> {
  const p = await startMuxPeer({
    path: join(dir, `mux-${behaviour}-${peers.length}`),
    ports: { 22: sshd.socketPath, 7: echoPath },
    behaviour,
  })
  peers.push(p)
  return p
}

beforeAll(async () => {
  dir = mkdtempSync('/tmp/mx-')
  sshd = await startUnixSshd()
  // half-close-aware echo "guest": echoes everything, ends after the peer ends
  echoPath = join(dir, 'echo')
  echoServer = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => s.destroy())
    s.pipe(s)
  })
  await new Promise<void>((resolve) => echoServer.listen(echoPath, resolve))
})

afterAll(async () => {
  await Promise.all(peers.map((p) => p.stop()))
  await new Promise<void>((resolve) => echoServer.close(() => resolve()))
  await sshd.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('parseConnect follows firecracker', () => {
  const enc = (s: string) => Buffer.from(s, 'latin1')
  test('valid requests', () => {
    expect(parseConnect(enc('CONNECT 22\n'))).toEqual({ port: 22, used: 11 })
    expect(parseConnect(enc('connect 22\n'))).toEqual({ port: 22, used: 11 })
    expect(parseConnect(enc('CoNnEcT 5\n'))).toEqual({ port: 5, used: 10 })
    expect(parseConnect(enc('CONNECT 22 extra words\n'))).toEqual({ port: 22, used: 23 })
    expect(parseConnect(enc('  CONNECT\t+4294967295\n'))).toEqual({ port: 4294967295, used: 22 })
    // bytes after the LF are not consumed
    expect(parseConnect(enc('CONNECT 22\nSSH-2.0-x\r\n'))).toEqual({ port: 22, used: 11 })
    // no LF within 32 bytes: the 32 bytes are parsed as they are
    expect(parseConnect(enc(`CONNECT 22${' '.repeat(30)}`))).toEqual({ port: 22, used: 32 })
  })
  test('incomplete requests wait for more', () => {
    expect(parseConnect(enc('CONNECT 2'))).toBe('more')
    expect(parseConnect(enc('CONNECT 22'))).toBe('more')
    // 10 bytes are always read first, even if an LF came earlier
    expect(parseConnect(enc('CONNECT\n'))).toBe('more')
  })
  test('bad requests are dropped', () => {
    expect(parseConnect(enc('HELLO 22\n\n'))).toBe('bad')
    expect(parseConnect(enc('CONNECT -1\n'))).toBe('bad')
    expect(parseConnect(enc('CONNECT 4294967296\n'))).toBe('bad')
    expect(parseConnect(enc('CONNECT 0x16\n'))).toBe('bad')
    expect(parseConnect(enc('CONNECT\n\n\n\n\n\n'))).toBe('bad')
    expect(parseConnect(Buffer.from([...enc('CONNECT 2'), 0xff, 0x0a]))).toBe('bad')
    expect(parseConnect(enc(`CONNECT${' '.repeat(25)}22\n`))).toBe('bad')
  })
})

describe('mux peer behaviours (plain node:net client)', () => {
  test('ok: 14-byte OK line, then the guest sshd banner', async () => {
    const p = await peer('ok')
    const c = new Client(p.path)
    c.sock.write('CONNECT 22\n')
    expectOkLine((await c.read(14)).toString('latin1'))
    expect(await c.readLine()).toStartWith('SSH-2.0-OpenSSH_')
    c.destroy()
    expect(p.connections).toBe(1)
    expect(p.requests).toEqual([22])
  })

  test('coalesce: OK line and banner arrive in the same chunk', async () => {
    const p = await peer('coalesce')
    const c = new Client(p.path)
    c.sock.write('CONNECT 22\n')
    await c.read(14)
    expect(c.chunks[0]!.toString('latin1')).toMatch(/^OK \d{10}\nSSH-2\.0-OpenSSH_/)
    c.destroy()
  })

  test('split: OK line arrives in pieces, then the banner', async () => {
    const p = await peer('split')
    const c = new Client(p.path)
    const t0 = performance.now()
    c.sock.write('CONNECT 22\n')
    expectOkLine((await c.read(14)).toString('latin1'))
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90)
    expect(c.chunks.length).toBeGreaterThanOrEqual(3)
    expect(c.chunks[0]!.toString('latin1')).toBe('OK ')
    expect(await c.readLine()).toStartWith('SSH-2.0-')
    c.destroy()
  })

  test('close: closed without a byte after CONNECT', async () => {
    const p = await peer('close')
    const c = new Client(p.path)
    c.sock.write('CONNECT 22\n')
    expect(await c.closedWith()).toBe('')
    expect(p.requests).toEqual([22])
  })

  test('ok: unknown guest port or bad request is a silent close', async () => {
    const p = await peer('ok')
    const a = new Client(p.path)
    a.sock.write('CONNECT 2222\n')
    expect(await a.closedWith()).toBe('')
    const b = new Client(p.path)
    b.sock.write('HELLO 22 there\n')
    expect(await b.closedWith()).toBe('')
    expect(p.connections).toBe(2)
    expect(p.requests).toEqual([2222])
  })

  test('garbage: HELLO WORLD, then closed after ~2 s', async () => {
    const p = await peer('garbage')
    const c = new Client(p.path)
    const t0 = performance.now()
    c.sock.write('CONNECT 22\n')
    expect(await c.readLine()).toBe('HELLO WORLD\n')
    expect(await c.closedWith(4000)).toBe('')
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1900)
  })

  test('slow: no reply, stays open until stop()', async () => {
    const p = await peer('slow')
    const c = new Client(p.path)
    c.sock.write('CONNECT 22\n')
    await Bun.sleep(500)
    expect(c.buf.length).toBe(0)
    expect(c.closed).toBe(false)
    await p.stop()
    expect(await c.closedWith()).toBe('')
  })

  test('bytes sent right after the CONNECT line reach the guest', async () => {
    const p = await peer('ok')
    const c = new Client(p.path)
    c.sock.write('CONNECT 7\nhello guest')
    expectOkLine(await c.readLine())
    expect((await c.read(11)).toString()).toBe('hello guest')
    c.sock.end()
    expect(await c.closedWith()).toBe('')
  })

  test(`bridge carries ${BULK_BYTES} bytes each way with half-close`, async () => {
    const p = await peer('ok')
    const sock = net.connect({ path: p.path, allowHalfOpen: true })
    await once(sock, 'connect')
    sock.write('CONNECT 7\n')

    const sent = new Bun.CryptoHasher('sha256')
    const got = new Bun.CryptoHasher('sha256')
    let header = Buffer.alloc(0)
    let received = 0
    const done = new Promise<void>((resolve, reject) => {
      sock.on('data', (d: Buffer) => {
        if (header.length < 14) {
          const need = 14 - header.length
          header = Buffer.concat([header, d.subarray(0, need)])
          d = d.subarray(need)
        }
        received += d.length
        got.update(d)
      })
      sock.on('end', resolve)
      sock.on('error', reject)
    })

    const block = 1024 * 1024
    for (let off = 0; off < BULK_BYTES; off += block) {
      const chunk = randomBytes(Math.min(block, BULK_BYTES - off))
      sent.update(chunk)
      if (!sock.write(chunk)) await once(sock, 'drain')
    }
    sock.end()
    await done
    sock.destroy()
    expectOkLine(header.toString('latin1'))
    expect(received).toBe(BULK_BYTES)
    expect(got.digest('hex')).toBe(sent.digest('hex'))
  }, 600_000)
})
