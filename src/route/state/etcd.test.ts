import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startEtcd, type TestEtcd } from '../../../tests/route/etcd'
import { EtcdState } from './etcd'
import { prefixEnd } from './etcd-client'
import { runStateContract } from './state.case'

let etcd: TestEtcd
let n = 0
beforeAll(async () => {
  etcd = await startEtcd()
})
afterAll(async () => {
  await etcd?.stop()
})

describe('etcd state (real etcd 3.4, JSON gateway)', () => {
  // a fresh prefix per test keeps them independent on one server
  runStateContract(async () => new EtcdState({ endpoints: [etcd.endpoint] }, `/t${++n}/`))

  test('prefix ends are the next key after the prefix', () => {
    expect(Buffer.from(prefixEnd('/a/'), 'base64').toString()).toBe('/a0')
    expect(Buffer.from(prefixEnd('ab'), 'base64').toString()).toBe('ac')
  })

  test('an unreachable endpoint is skipped for the next one', async () => {
    const s = new EtcdState({ endpoints: ['http://127.0.0.1:1', etcd.endpoint] }, '/multi/')
    await s.setBanner('hello')
    expect((await s.banner())?.text).toBe('hello')
  })
})

test('etcd with authentication: the configured user gets a token, no user is refused', async () => {
  const secured = await startEtcd()
  try {
    const ctl = (...args: string[]) =>
      Bun.spawnSync(['etcdctl', `--endpoints=${secured.endpoint}`, ...args], {
        env: { ...process.env, ETCDCTL_API: '3' },
        stderr: 'pipe',
      })
    expect(ctl('user', 'add', 'root', '--new-user-password=rootpw').exitCode).toBe(0)
    expect(ctl('auth', 'enable').exitCode).toBe(0)
    const s = new EtcdState({ endpoints: [secured.endpoint], username: 'root', password: 'rootpw' })
    await s.setBanner('authenticated')
    expect((await s.banner())?.text).toBe('authenticated')
    const anonymous = new EtcdState({ endpoints: [secured.endpoint] })
    await expect(anonymous.banner()).rejects.toThrow('etcd /v3/kv/range')
    const wrong = new EtcdState({
      endpoints: [secured.endpoint],
      username: 'root',
      password: 'nope',
    })
    await expect(wrong.banner()).rejects.toThrow("etcd authentication as 'root' failed: ")
  } finally {
    await secured.stop()
  }
})
