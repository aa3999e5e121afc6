import { beforeAll, describe, expect, test } from 'bun:test'
import { Exec, run } from './exec'
import { BUSYBOX_IMAGE, ensureContainer, incusAvailable, processes, testClient } from './testing'

const C = 'burrow-t-client'
const BB = 'burrow-t-busybox'

describe.skipIf(!incusAvailable())('exec websockets against the real incusd', () => {
  beforeAll(async () => {
    await Promise.all([
      ensureContainer({ name: C }),
      ensureContainer({ name: BB, image: BUSYBOX_IMAGE }),
    ])
  })

  test.each([0, 1, 42])('exit status %p with stdout and stderr apart', async (code) => {
    const res = await run(testClient(), C, 'default', [
      'sh',
      '-c',
      `echo out; echo err >&2; exit ${code}`,
    ])
    expect(res).toEqual({ code, stdout: 'out\n', stderr: 'err\n' })
  })

  test('busybox images work too', async () => {
    expect(await run(testClient(), BB, 'default', ['sh', '-c', 'echo $0; exit 3'])).toEqual({
      code: 3,
      stdout: 'sh\n',
      stderr: '',
    })
  })

  test('stdin arrives byte-exact and EOF ends it', async () => {
    const data = new Uint8Array(8 << 20)
    for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536))
    let out = ''
    const e = await Exec.start(
      testClient(),
      C,
      'default',
      { command: ['sha256sum'], interactive: false },
      { stdout: (d) => void (out += Buffer.from(d).toString()) },
    )
    for (let i = 0; i < data.length; i += 1 << 16)
      if (!e.write(data.subarray(i, i + (1 << 16)))) await e.waitStdin()
    e.end()
    expect(await e.exited).toBe(0)
    expect(out.split(' ')[0]).toBe(new Bun.CryptoHasher('sha256').update(data).digest('hex'))
  })

  test('paused output holds the process back instead of buffering', async () => {
    let got = 0
    let paused = false
    const e = await Exec.start(
      testClient(),
      C,
      'default',
      { command: ['head', '-c', '33554432', '/dev/zero'], interactive: false },
      {
        stdout: (d) => {
          got += d.length
          if (got > 1 << 20 && !paused) return !(paused = true)
        },
      },
    )
    await Bun.sleep(300)
    const atPause = got
    // only what was already in flight arrives after the pause
    expect(atPause).toBeLessThan(16 << 20)
    e.resumeOutput()
    expect(await e.exited).toBe(0)
    expect(got).toBe(32 << 20)
  })

  test('a PTY gets its size, resizes, and merges output', async () => {
    let out = ''
    const e = await Exec.start(
      testClient(),
      C,
      'default',
      {
        command: ['bash', '-c', 'stty size; read x; stty size; echo "$TERM" >&2; exit 3'],
        interactive: true,
        width: 100,
        height: 30,
        environment: { TERM: 'xterm-test' },
      },
      { stdout: (d) => void (out += Buffer.from(d).toString()) },
    )
    await Bun.sleep(200)
    e.resize(120, 40)
    await Bun.sleep(100)
    e.write(new TextEncoder().encode('\n'))
    expect(await e.exited).toBe(3)
    expect(out.replace(/\r/g, '')).toBe('30 100\n\n40 120\nxterm-test\n')
  })

  test('signals reach the process; close() kills it', async () => {
    const e = await Exec.start(
      testClient(),
      C,
      'default',
      { command: ['sleep', '101'], interactive: false },
      { stdout: () => {} },
    )
    e.signal(15)
    expect(await e.exited).toBe(143)
    const e2 = await Exec.start(
      testClient(),
      C,
      'default',
      { command: ['sleep', '102'], interactive: false },
      { stdout: () => {} },
    )
    expect((await processes(C)).some((l) => l.includes('sleep 102'))).toBe(true)
    e2.close()
    await Bun.sleep(300)
    expect((await processes(C)).some((l) => l.includes('sleep 102'))).toBe(false)
  })

  test('a command that does not exist is exit status 127', async () => {
    const res = await run(testClient(), C, 'default', ['/nonexistent'])
    expect(res.code).toBe(127)
  })
})
