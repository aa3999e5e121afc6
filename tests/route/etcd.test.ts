import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startEtcd, type TestEtcd } from './etcd'
import {
  type Gateway,
  type Lab,
  routeYaml,
  run,
  servedBy,
  startGateway,
  startLab,
  waitFor,
} from './support'

let lab: Lab
let etcd: TestEtcd
let a: Gateway
let b: Gateway
const dests = () => lab.dests.map((d) => `127.0.0.1:${d.port}`)
const where = 'echo $SSH_CONNECTION'
const yaml = (extra = '') =>
  routeYaml(
    lab,
    dests(),
    `route_select: random\nmode: sticky\netcd:\n  endpoints: ["${etcd.endpoint}"]\n  keyttl: 2s\n${extra}`,
  )

async function conns(gw: Gateway): Promise<{ destination: string; sshd: string }[]> {
  const r = await gw.ctl(['show', 'connections', '--all', '--json'])
  if (r.code !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout)
}

beforeAll(async () => {
  ;[lab, etcd] = await Promise.all([startLab(3), startEtcd()])
  a = await startGateway(lab, yaml(), { name: 'a' })
  b = await startGateway(lab, yaml(), { name: 'b' })
})

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()])
  await Promise.all([lab?.stop(), etcd?.stop()])
})

describe('two gateways sharing etcd', () => {
  test('a live session on one gateway makes the other sticky to its host; ctl on either sees it', async () => {
    const held = Bun.spawn(a.ssh(['sleep 60']), {
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'ignore',
    })
    try {
      await waitFor('the session to register in etcd', async () => (await conns(b)).length === 1)
      const [live] = await conns(b)
      expect(live!.sshd).toBe(`127.0.0.1:${a.sshd.port}`)
      for (let i = 0; i < 4; i++) {
        const r = await run(b.ssh([where]))
        expect(dests()[servedBy(lab, r.stdout)]).toBe(live!.destination)
      }
    } finally {
      held.kill('SIGKILL')
      await held.exited
    }
    await waitFor('the lease to go', async () => (await conns(a)).length === 0)
  })

  test('a host disabled through one gateway is skipped by the other', async () => {
    for (const gw of [a, b])
      gw.setConfig(routeYaml(lab, dests(), `etcd:\n  endpoints: ["${etcd.endpoint}"]`))
    try {
      expect((await a.ctl(['disable', dests()[0]!])).code).toBe(0)
      expect(servedBy(lab, (await run(b.ssh([where]))).stdout)).toBe(1)
      const hosts = JSON.parse((await b.ctl(['show', 'hosts', '--json'])).stdout) as {
        host: string
        state: string
      }[]
      expect(hosts.find((h) => h.host === dests()[0])?.state).toBe('disabled')
    } finally {
      await a.ctl(['enable', '--all'])
      for (const gw of [a, b]) gw.setConfig(yaml())
    }
  })

  test('etcd killed mid-session: the session finishes; new ones fall back, or are refused when mandatory', async () => {
    const session = run(a.ssh(['sleep 2; echo done; exit 7']))
    await waitFor('the session to register', async () => (await conns(a)).length === 1)
    await etcd.kill()
    try {
      expect(await session).toEqual({ code: 7, stdout: 'done\n', stderr: '' })
      const fallback = await run(b.ssh([where]))
      expect(fallback.code).toBe(0)
      expect(fallback.stderr).toContain(`etcd at ${etcd.endpoint} is unreachable`)
      expect(fallback.stderr).toContain('using the local state in')
      b.setConfig(yaml('  mandatory: true\n'))
      const refused = await run(b.ssh([where]))
      expect(refused.code).toBe(1)
      expect(refused.stdout).toBe('')
      expect(refused.stderr).toMatch(
        /^burrow: Failed to reach etcd at http:\/\/127\.0\.0\.1:\d+: .*etcd\.mandatory is true, so no session is routed until etcd answers\n$/,
      )
      const ctl = await b.ctl(['show', 'hosts'])
      expect(ctl.code).toBe(1)
      expect(ctl.stderr).toStartWith('burrow: Failed to reach etcd at')
    } finally {
      await etcd.start()
      b.setConfig(yaml())
    }
    const back = await run(b.ssh([where]))
    expect(back).toMatchObject({ code: 0, stderr: '' })
  })
})
