import { describe, expect, test } from 'bun:test'
import { Duplex, PassThrough } from 'node:stream'
import { join } from './pipe'

/** a side that takes `delay` ms per write, like an SSH channel waiting for window */
function slowSink(delay: number): Duplex & { got: number } {
  const d = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      setTimeout(() => {
        d.got += chunk.length
        done()
      }, delay)
    },
  }) as Duplex & { got: number }
  d.got = 0
  return d
}

describe('join', () => {
  test('a side that ends and closes first does not cut what the other still holds', async () => {
    const src = new PassThrough()
    const dst = slowSink(2)
    join(src, dst)
    for (let i = 0; i < 20; i++) src.write(Buffer.alloc(1000))
    src.end()
    await new Promise((r) => dst.once('close', r))
    expect(dst.got).toBe(20_000)
  })

  test('an abrupt close or an error takes both sides down at once', async () => {
    const a = new PassThrough()
    const b = slowSink(1000)
    join(a, b)
    a.write(Buffer.alloc(10))
    a.destroy()
    await new Promise((r) => b.once('close', r))
    expect(b.got).toBe(0)

    const c = new PassThrough()
    const d = slowSink(1)
    join(c, d)
    c.destroy(new Error('boom'))
    await new Promise((r) => d.once('close', r))
    expect(d.destroyed).toBe(true)
  })
})
