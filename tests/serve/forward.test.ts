import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { incus, incusAvailable } from '../../src/incus/testing'
import type { Serve } from './support'
import { prepareTargets, startServe } from './support'
import { background, burrowDevices, daemon, FWD, prepareFwd, sh, until } from './fwd-support'
import { listenPort } from '../support/ports'

// socat's address parser eats double quotes: the responder is a script file
const HTTP = `printf '#!/bin/sh\\nread l\\nprintf "HTTP/1.0 200 OK\\\\r\\\\nContent-Length: 6\\\\r\\\\n\\\\r\\\\nhello\\\\n"\\n' > /usr/local/bin/burrow-http; chmod +x /usr/local/bin/burrow-http`

async function curl(...args: string[]): Promise<string> {
  const p = Bun.spawn(['curl', '-s', '--max-time', '5', ...args], {
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const out = await new Response(p.stdout).text()
  await p.exited
  return out
}

/** First bytes a unix socket sends (never half-closes: -R still goes through forkproxy). */
function readUnix(path: string): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(path)
    let got = ''
    c.on('data', (d) => (got += d))
    c.on('close', () => resolve(got))
    c.on('error', () => resolve(got))
    setTimeout(() => c.destroy(), 3000)
  })
}

/** A host listener that greets each connection and closes it. */
function greeter(listen: number | string, text: string): Promise<net.Server> {
  return new Promise((resolve) => {
    const srv = net.createServer((c) => c.end(text))
    srv.listen(listen as never, () => resolve(srv))
  })
}

const port = listenPort

describe.skipIf(!incusAvailable())('serve: forwarding into an instance without network', () => {
  let s: Serve
  let tmp: string
  beforeAll(async () => {
    await prepareTargets()
    await prepareFwd()
    tmp = mkdtempSync('/tmp/burrow-fwd-')
    expect((await sh('ls /sys/class/net')).stdout.trim()).toBe('lo')
    await sh('pkill -x socat; rm -f /tmp/inside.sock /tmp/r.sock; true')
    await sh(HTTP)
    await daemon(
      'socat TCP-LISTEN:7002,bind=127.0.0.1,fork,reuseaddr EXEC:/usr/local/bin/burrow-http',
    )
    await daemon(`socat UNIX-LISTEN:/tmp/inside.sock,fork,mode=666 SYSTEM:'echo unix-hello'`)
    s = await startServe(['--max-startups', '100'])
  })
  afterAll(async () => {
    await s?.stop()
    rmSync(tmp, { recursive: true, force: true })
  })

  test('-L to 127.0.0.1 inside, -D with curl --socks5-hostname; devices gone after', async () => {
    const [l, d] = [port(), port()]
    const ssh = background(s, FWD, [
      '-N',
      '-L',
      `127.0.0.1:${l}:127.0.0.1:7002`,
      '-D',
      `127.0.0.1:${d}`,
    ])
    try {
      expect(await until(async () => (await curl(`http://127.0.0.1:${l}/`)) === 'hello\n')).toBe(
        true,
      )
      expect(await curl('--socks5-hostname', `127.0.0.1:${d}`, 'http://localhost:7002/')).toBe(
        'hello\n',
      )
      // -L and -D into a container on this host need no device: the socket is made inside
      expect(await curl(`http://127.0.0.1:${l}/`)).toBe('hello\n')
      expect(await burrowDevices()).toEqual([])
    } finally {
      await ssh.stop()
    }
    expect(await until(async () => (await burrowDevices()).length === 0)).toBe(true)
  })

  test('-R: a listener inside the instance reaches the client side', async () => {
    const host = await greeter(0, 'from-host\n')
    const hp = (host.address() as net.AddressInfo).port
    const ssh = background(s, FWD, [
      '-N',
      '-o',
      'ExitOnForwardFailure=yes',
      '-R',
      `127.0.0.1:7101:127.0.0.1:${hp}`,
    ])
    try {
      const got = async () => (await sh('sleep 2 | socat -t 1 - TCP:127.0.0.1:7101')).stdout
      expect(await until(async () => (await got()) === 'from-host\n')).toBe(true)
    } finally {
      await ssh.stop()
      host.close()
    }
    expect(await until(async () => (await burrowDevices()).length === 0)).toBe(true)
    expect((await sh('socat -t 1 - TCP:127.0.0.1:7101 </dev/null')).code).not.toBe(0)
  })

  test('unix sockets both ways: -L LOCAL.sock:/inside.sock and -R /inside.sock:LOCAL.sock', async () => {
    const local = join(tmp, 'l.sock')
    const hostSock = join(tmp, 'h.sock')
    const host = await greeter(hostSock, 'unix-from-host\n')
    const ssh = background(s, `alice@${FWD}`, [
      '-N',
      '-o',
      'ExitOnForwardFailure=yes',
      '-L',
      `${local}:/tmp/inside.sock`,
      '-R',
      `/tmp/r.sock:${hostSock}`,
    ])
    try {
      expect(await until(async () => (await readUnix(local)) === 'unix-hello\n')).toBe(true)
      const got = async () => (await sh('sleep 2 | socat -t 1 - UNIX-CONNECT:/tmp/r.sock')).stdout
      expect(await until(async () => (await got()) === 'unix-from-host\n')).toBe(true)
      // the user's path is the user's own link to a socket it owns, which root made in /run
      expect((await sh('stat -c %U:%F /tmp/r.sock')).stdout).toBe('alice:symbolic link\n')
      expect((await sh('stat -L -c %U:%a /tmp/r.sock')).stdout).toBe('alice:600\n')
    } finally {
      await ssh.stop()
      host.close()
    }
    expect(await until(async () => (await burrowDevices()).length === 0)).toBe(true)
    // forkproxy removes its socket file as it exits, after the device is gone
    expect(await until(async () => (await sh('test -e /tmp/r.sock')).code !== 0)).toBe(true)
  })

  test('a non-root user cannot reach sockets it may not open', async () => {
    await sh(
      'umask 077; rm -f /root/priv.sock; setsid -f socat UNIX-LISTEN:/root/priv.sock SYSTEM:true',
    )
    const local = join(tmp, 'p.sock')
    const ssh = background(s, `alice@${FWD}`, ['-N', '-L', `${local}:/root/priv.sock`])
    try {
      expect(await until(() => existsSync(local))).toBe(true)
      expect(await readUnix(local)).toBe('')
      // the device connects as alice (security.uid/gid), so the instance's kernel said no
      const uid = (await sh('id -u alice')).stdout.trim()
      expect(await incus('config', 'show', FWD)).toContain(`security.uid: "${uid}"`)
    } finally {
      await ssh.stop()
    }
  })

  test('-L to a socket path resolves it inside the container: a symlink to a host socket leads nowhere', async () => {
    const secret = join(tmp, 'host-only.sock')
    const host = await greeter(secret, 'host-secret\n')
    await sh(`ln -sfn ${secret} /tmp/bsc-escape.sock; ln -sfn inside.sock /tmp/bsc-rel.sock`)
    const [esc, rel] = [join(tmp, 'esc.sock'), join(tmp, 'rel.sock')]
    const ssh = background(s, FWD, [
      '-N',
      '-L',
      `${esc}:/tmp/bsc-escape.sock`,
      '-L',
      `${rel}:/tmp/bsc-rel.sock`,
    ])
    try {
      expect(await until(async () => (await readUnix(rel)) === 'unix-hello\n')).toBe(true)
      expect(await readUnix(esc)).toBe('')
      expect(s.log()).toContain('/tmp/bsc-escape.sock: No such file or directory')
    } finally {
      await ssh.stop()
      host.close()
      await sh('rm -f /tmp/bsc-escape.sock /tmp/bsc-rel.sock')
    }
  })

  test('after kill -9 of the server, a restart removes its devices and sockets', async () => {
    const l = port()
    const ssh = background(s, FWD, [
      '-N',
      '-L',
      `127.0.0.1:${l}:127.0.0.1:7002`,
      // a unix-socket -R still takes a device (-L and TCP -R into a container take none)
      '-R',
      '/tmp/bsc-kill9.sock:/tmp/bsc-nothing.sock',
    ])
    try {
      expect(await until(async () => (await curl(`http://127.0.0.1:${l}/`)) === 'hello\n')).toBe(
        true,
      )
      // the unix -R's device
      expect(await until(async () => (await burrowDevices()).length === 1)).toBe(true)
      process.kill(s.pid, 'SIGKILL')
      await Bun.sleep(200)
      expect((await burrowDevices()).length).toBe(1)
    } finally {
      await ssh.stop()
    }
    await s.stop()
    s = await startServe(['--max-startups', '100'])
    expect(await burrowDevices()).toEqual([])
    expect(s.log()).toContain('leftover forwarding device')
  })
})
