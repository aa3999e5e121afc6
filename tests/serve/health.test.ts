/**
 * --healthcheck with incusd stopped and started again under a running server.
 * NOTE: this test stops the shared incusd (SIGTERM: instances keep running) and starts it again in
 * `finally`, waiting until `incus info` answers. Never run it concurrently with other Incus tests.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { openSync, readFileSync } from 'node:fs'
import { incusAvailable } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, prepareTargets, ssh, startServe } from './support'

const INCUSD = '/usr/libexec/incus/incusd'
const LOG = '/var/log/incus/incusd.log'
let s: Serve

// the daemon only: `incusd forkproxy …` helpers (proxy devices) carry the same process name
const incusdPid = () =>
  Number(
    Bun.spawnSync(['pgrep', '-f', `^${INCUSD}( --|$)`])
      .stdout.toString()
      .trim()
      .split('\n')[0] || 0,
  )
const answering = () => Bun.spawnSync(['timeout', '10', 'incus', 'info']).exitCode === 0

/** the running incusd's own command line, so it comes back exactly as provisioning started it */
let incusdArgv = [INCUSD, '--group', 'incus-admin', '--logfile', LOG]

async function stopIncusd(): Promise<void> {
  const pid = incusdPid()
  if (!pid) return
  incusdArgv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  process.kill(pid, 'SIGTERM')
  for (let i = 0; i < 300 && incusdPid(); i++) await Bun.sleep(100)
  if (incusdPid()) throw new Error('incusd did not stop within 30 s')
}

/**
 * As it ran before (its own argv; scripts/provision.d/40-incus.sh starts it with --group
 * incus-admin): detached, no inherited fds, logging to LOG. A restart with another --group
 * would leave the next run a daemon whose socket the incus-admin members cannot open.
 */
async function startIncusd(): Promise<void> {
  if (!incusdPid()) {
    const log = openSync(LOG, 'a')
    const p = Bun.spawn(['setsid', ...incusdArgv], {
      stdio: ['ignore', log, log],
      detached: true,
    })
    p.unref()
  }
  const deadline = Date.now() + 60_000
  while (!answering()) {
    if (Date.now() > deadline) throw new Error('incusd did not answer `incus info` within 60 s')
    await Bun.sleep(250)
  }
}

describe.skipIf(!incusAvailable())('serve --healthcheck: incusd stopped and started again', () => {
  beforeAll(async () => {
    await prepareTargets()
    s = await startServe(['--healthcheck', '5m'])
  })
  afterAll(async () => {
    await startIncusd()
    await s?.stop()
  })

  test('while incusd is down logins fail with one line; afterwards everything works again', async () => {
    expect(await ssh(s, C1, 'echo before')).toMatchObject({ code: 0, stdout: 'before\n' })
    try {
      await stopIncusd()
      const r = await ssh(s, C1, 'true')
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(
        /^burrow: Failed to reach Incus: not answering since \d\d:\d\d:\d\d UTC \(cannot reach incusd on [^\n]+\); try again later\n$/,
      )
      expect(s.log()).toContain('Incus health check failed')
      // and so does the next one, at once
      const again = await ssh(s, C1, 'true')
      expect(again.code).toBe(1)
      expect(again.stderr).toStartWith('burrow: Failed to reach Incus: not answering since')
    } finally {
      await startIncusd()
    }
    // no restart of burrow: the next login notices incusd is back
    expect(await ssh(s, C1, 'echo after')).toEqual({ code: 0, stdout: 'after\n', stderr: '' })
    expect(s.log()).toContain('Incus is answering again')
  })
})
