/**
 * Pre-authentication work cannot stall others: the key exchanges offered (as the real client
 * reads them with ssh -vv) are exactly the fast ones, each is timed here, the slow finite-field
 * groups and the unimplemented group exchange are refused at once, and a live session keeps its
 * latency while unauthenticated clients run the slowest offered exchange over and over.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { incusAvailable } from '../../src/incus/testing'
import { OFFERED_KEX } from '../../src/serve/policy'
import type { Serve } from './support'
import { C1, prepareTargets, sshArgs, startServe } from './support'

let s: Serve
/** median handshake time of each offered exchange, from the timing test */
const medians = new Map<string, number>()

/** an unauthenticated handshake with only `kex`: its wall time and what ssh -vv said */
async function handshake(kex: string): Promise<{ ms: number; log: string; code: number }> {
  const started = performance.now()
  const p = Bun.spawn(
    [
      'ssh',
      '-vv',
      '-o',
      `KexAlgorithms=${kex}`,
      '-o',
      'PreferredAuthentications=none',
      ...sshArgs(s, 'nobody').slice(1),
      'true',
    ],
    { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' },
  )
  const [log, code] = await Promise.all([new Response(p.stderr).text(), p.exited])
  return { ms: performance.now() - started, log, code }
}

describe.skipIf(!incusAvailable())('serve: key exchange', () => {
  beforeAll(async () => {
    await prepareTargets()
    s = await startServe(['--max-startups', '100', '--max-auth-failures', '0'])
  })
  afterAll(() => s?.stop())

  test('the server offers exactly the fast exchanges, and a well-formed server-sig-algs', async () => {
    const { log } = await handshake('curve25519-sha256')
    const proposal = log.split('peer server KEXINIT proposal')[1]!
    const offered = /KEX algorithms: (\S+)/.exec(proposal)![1]!.split(',')
    expect(offered.filter((k) => !k.startsWith('kex-strict-'))).toEqual([...OFFERED_KEX])
    const sigAlgs = /server-sig-algs=<([^>]*)>/.exec(log)![1]!.split(',')
    expect(sigAlgs).toContain('ecdsa-sha2-nistp521')
    expect(sigAlgs).toContain('rsa-sha2-512')
  })

  test('each offered exchange completes in well under a second (timings printed)', async () => {
    const rows: string[] = []
    for (const kex of OFFERED_KEX) {
      const times: number[] = []
      for (let i = 0; i < 3; i++) {
        const r = await handshake(kex)
        expect(r.log).toContain(`kex: algorithm: ${kex}`)
        expect(r.log).toContain('Permission denied')
        times.push(r.ms)
      }
      times.sort((a, b) => a - b)
      medians.set(kex, times[1]!)
      rows.push(`${kex.padEnd(32)} median ${times[1]!.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times[2]!.toFixed(0)})`)
      expect(times[1]!).toBeLessThan(1000)
    }
    console.log(`ssh handshake to auth refusal, 3 runs each:\n${rows.join('\n')}`)
  })

  test.each([
    'diffie-hellman-group14-sha256',
    'diffie-hellman-group16-sha512',
    'diffie-hellman-group18-sha512',
    'diffie-hellman-group-exchange-sha256',
    'diffie-hellman-group14-sha1',
  ])('%s is not offered: refused at once', async (kex) => {
    const r = await handshake(kex)
    expect(r.code).toBe(255)
    expect(r.log).toContain('no matching key exchange method found')
    expect(r.ms).toBeLessThan(1000)
  })

  test('a live session stays responsive while others run the slowest offered exchange', async () => {
    const live = Bun.spawn([...sshArgs(s, C1), 'cat'], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' })
    const reader = live.stdout.getReader()
    const rtt = async (i: number) => {
      const started = performance.now()
      live.stdin.write(`ping ${i}\n`)
      live.stdin.flush()
      let got = ''
      while (!got.includes(`ping ${i}\n`)) got += new TextDecoder().decode((await reader.read()).value)
      return performance.now() - started
    }
    await rtt(-1)
    const slowest = [...medians].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'ecdh-sha2-nistp521'
    let stop = false
    let handshakes = 0
    const flood = Array.from({ length: 4 }, async () => {
      while (!stop) {
        await handshake(slowest)
        handshakes++
      }
    })
    const rtts: number[] = []
    const until = performance.now() + 3000
    for (let i = 0; performance.now() < until; i++) {
      rtts.push(await rtt(i))
      await Bun.sleep(50)
    }
    stop = true
    await Promise.all(flood)
    live.stdin.end()
    await live.exited
    rtts.sort((a, b) => a - b)
    console.log(
      `live session echo during ${handshakes} ${slowest} handshakes: median ${rtts[rtts.length >> 1]!.toFixed(1)} ms, max ${rtts.at(-1)!.toFixed(1)} ms`,
    )
    expect(handshakes).toBeGreaterThan(4)
    expect(rtts.at(-1)!).toBeLessThan(500)
  })
})
