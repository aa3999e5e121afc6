import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { incusAvailable } from '../../src/incus/testing'
import type { Serve } from './support'
import { prepareTargets, sshArgs, startServe, tool } from './support'
import { FWD, prepareFwd, sh, sha256 } from './fwd-support'

const CHACHA = 'chacha20-poly1305@openssh.com'
const MIB = 1 << 20

/** both directions of each key exchange, as `ssh -v` reports them */
const negotiated = (log: string) =>
  [...log.matchAll(/kex: (server->client|client->server) cipher: (\S+)/g)].map(
    (m) => `${m[1]} ${m[2]}`,
  )
const chachaBothWays = [`server->client ${CHACHA}`, `client->server ${CHACHA}`]

/** one word quoted for bash */
const q = (a: string) => `'${a.replaceAll("'", "'\\''")}'`

// the default client cipher list throughout: no -c, no Ciphers= anywhere
describe.skipIf(!incusAvailable())(
  'serve: chacha20-poly1305@openssh.com with the real clients',
  () => {
    let s: Serve
    let dir: string
    let file: string
    let sum: string
    beforeAll(async () => {
      await prepareTargets()
      await prepareFwd()
      s = await startServe()
      dir = join(s.dir, 'chacha')
      mkdirSync(dir)
      file = join(dir, 'data')
      await tool(['sh', '-c', `head -c ${24 * MIB} /dev/urandom > ${file}`])
      sum = await sha256(file)
      await sh('rm -rf /root/bsp-chacha && mkdir /root/bsp-chacha')
    })
    afterAll(async () => {
      await sh('rm -rf /root/bsp-chacha')
      await s?.stop()
    })

    /** ssh's options for scp/sftp (they take ssh's options, not its argv) */
    const opts = () =>
      sshArgs(s, FWD)
        .slice(1, -1)
        .filter((x) => x !== '-p' && x !== String(s.port))

    test('ssh negotiates it by default and moves stdin and stdout byte-exact', async () => {
      const ssh = sshArgs(s, FWD, ['-v']).map(q).join(' ')
      const remote = 'f=/root/bsp-chacha/up; cat > $f; sha256sum < $f >&2; cat $f'
      const r = await tool([
        'bash',
        '-c',
        `set -o pipefail; ${ssh} ${q(remote)} < ${q(file)} | sha256sum`,
      ])
      expect(r.code).toBe(0)
      expect(negotiated(r.err)).toEqual(chachaBothWays)
      expect(r.err).toContain(`${sum}  -`)
      expect(r.out).toBe(`${sum}  -\n`)
    })

    test('scp and sftp negotiate it by default, both ways byte-exact', async () => {
      const scp = ['scp', '-v', '-P', String(s.port), ...opts()]
      const up = await tool([...scp, file, '127.0.0.1:/root/bsp-chacha/scp'])
      expect(up.code).toBe(0)
      expect(negotiated(up.err)).toEqual(chachaBothWays)
      const down = await tool([...scp, '127.0.0.1:/root/bsp-chacha/scp', join(dir, 'scp')])
      expect(down.code).toBe(0)
      expect(negotiated(down.err)).toEqual(chachaBothWays)
      expect(await sha256(join(dir, 'scp'))).toBe(sum)

      writeFileSync(
        join(dir, 'batch'),
        `put ${file} /root/bsp-chacha/sftp\nget /root/bsp-chacha/sftp ${dir}/sftp\n`,
      )
      const sftp = await tool([
        'sftp',
        '-v',
        '-P',
        String(s.port),
        ...opts(),
        '-b',
        join(dir, 'batch'),
        '127.0.0.1',
      ])
      expect(sftp.code).toBe(0)
      expect(negotiated(sftp.err)).toEqual(chachaBothWays)
      expect(await sha256(join(dir, 'sftp'))).toBe(sum)
      expect((await sh('sha256sum < /root/bsp-chacha/sftp')).stdout).toBe(`${sum}  -\n`)
    })

    test('rekeying every MiB (strict kex: sequence numbers restart) keeps 24 MiB intact both ways', async () => {
      const ssh = sshArgs(s, FWD, ['-vvv', '-o', 'RekeyLimit=1M']).map(q).join(' ')
      const r = await tool(['bash', '-c', `set -o pipefail; ${ssh} cat < ${q(file)} | sha256sum`])
      expect(r.code).toBe(0)
      expect(r.out).toBe(`${sum}  -\n`)
      expect(r.err).toContain('will use strict KEX ordering')
      // the first exchange plus about one per MiB each way
      expect(negotiated(r.err).length / 2).toBeGreaterThan(20)
      expect(new Set(negotiated(r.err))).toEqual(new Set(chachaBothWays))
    })
  },
)

describe.skipIf(!incusAvailable())('serve: aes-gcm on the same libcrypto binding', () => {
  let s: Serve
  let file: string
  let sum: string
  beforeAll(async () => {
    await prepareTargets()
    await prepareFwd()
    s = await startServe()
    file = join(s.dir, 'data')
    await tool(['sh', '-c', `head -c ${8 * MIB} /dev/urandom > ${file}`])
    sum = await sha256(file)
  })
  afterAll(() => s?.stop())

  test.each(['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com'])(
    '%s moves 8 MiB both ways intact, rekeying every MiB',
    async (cipher) => {
      const ssh = sshArgs(s, FWD, ['-v', '-c', cipher, '-o', 'RekeyLimit=1M']).map(q).join(' ')
      const r = await tool(['bash', '-c', `set -o pipefail; ${ssh} cat < ${q(file)} | sha256sum`])
      expect(r.code).toBe(0)
      expect(r.out).toBe(`${sum}  -\n`)
      expect(negotiated(r.err).length / 2).toBeGreaterThan(5)
      expect(new Set(negotiated(r.err))).toEqual(
        new Set([`server->client ${cipher}`, `client->server ${cipher}`]),
      )
    },
  )
})

const LIBCRYPTO = '/usr/lib/x86_64-linux-gnu/libcrypto.so.3'

/** burrow serve in its own mount namespace where libcrypto.so.3 is an empty file */
function serveWithoutLibcrypto(): Promise<Serve> {
  const script = `mount --bind /dev/null ${LIBCRYPTO} && exec "$@"`
  return startServe([], { keysFor: ['root'], wrap: ['unshare', '-m', 'sh', '-c', script, 'sh'] })
}

describe.skipIf(!incusAvailable() || !existsSync(LIBCRYPTO))('serve: without libcrypto', () => {
  test('chacha20-poly1305 is not offered and the default client still gets in', async () => {
    await prepareTargets()
    await prepareFwd()
    const s = await serveWithoutLibcrypto()
    try {
      const ssh = sshArgs(s, FWD, ['-v']).map(q).join(' ')
      const r = await tool(['bash', '-c', `${ssh} 'head -c 1000000 /dev/zero' | wc -c`])
      expect(r.code).toBe(0)
      expect(r.out.trim()).toBe('1000000')
      expect(negotiated(r.err)).toHaveLength(2)
      expect(negotiated(r.err).join()).not.toContain('chacha20')
      expect(s.log()).toContain('libcrypto ciphers not available')
    } finally {
      await s.stop()
    }
  })
})

// long: 1 GiB each way (~10-30 s on a loaded 2-core machine)
describe.skipIf(!incusAvailable())('serve: 1 GiB each way over chacha20-poly1305 (long)', () => {
  let s: Serve
  beforeAll(async () => {
    await prepareTargets()
    await prepareFwd()
    s = await startServe()
  })
  afterAll(() => s?.stop())

  test('1 GiB of stdin and 1 GiB of stdout, sha256-checked', async () => {
    const ssh = sshArgs(s, FWD, ['-v']).map(q).join(' ')
    // a reproducible 1 GiB stream (an AES-CTR keystream), hashed here and sent there
    const key = '5a'.repeat(16)
    // (openssl's SIGPIPE when head has enough must not count as a failure of the pipeline)
    const stream = `head -c 1G < <(openssl enc -aes-128-ctr -nosalt -K ${key} -iv ${'00'.repeat(16)} -in /dev/zero 2>/dev/null)`
    const local = await tool(['bash', '-c', `set -o pipefail; ${stream} | sha256sum`])
    expect(local.code).toBe(0)
    expect(local.out).toMatch(/^[0-9a-f]{64} {2}-\n$/)
    // up into a file and its hash, then the file back down
    const up = await tool([
      'bash',
      '-c',
      `set -o pipefail; ${stream} | ${ssh} 'tee /root/bsp-1g | sha256sum'`,
    ])
    expect(up.code).toBe(0)
    expect(negotiated(up.err)).toContain(`client->server ${CHACHA}`)
    expect(up.out).toBe(local.out)
    const down = await tool([
      'bash',
      '-c',
      `set -o pipefail; ${ssh} 'cat /root/bsp-1g; rm /root/bsp-1g' | sha256sum`,
    ])
    expect(down.code).toBe(0)
    expect(negotiated(down.err)).toContain(`server->client ${CHACHA}`)
    expect(down.out).toBe(local.out)
  }, 300_000)
})
