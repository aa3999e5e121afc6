import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { BURROW } from './support'

describe('serve: a --listen address that cannot be bound', () => {
  let busy: net.Server
  let port = 0
  let dir: string
  beforeAll(async () => {
    dir = mkdtempSync('/tmp/bsc-listen-')
    busy = net.createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    port = (busy.address() as net.AddressInfo).port
  })
  afterAll(() => {
    busy.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test.each([[[]], [['--master']]])('port in use %p: one line, exit 1', async (extra) => {
    const p = Bun.spawn([BURROW, 'serve', '--listen', `127.0.0.1:${port}`, ...extra], {
      env: { ...process.env, NO_COLOR: '1', BURROW_STATE_DIR: join(dir, 'state') },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const [code, out, err] = await Promise.all([
      p.exited,
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
    ])
    expect({ code, out, err }).toEqual({
      code: 1,
      out: '',
      err: `burrow: Failed to listen on 127.0.0.1:${port}: address already in use (is another burrow serve or sshd listening there?)\n`,
    })
  })
})
