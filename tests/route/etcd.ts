// A throwaway etcd (Debian's etcd-server 3.4, installed by scripts/provision) on free loopback
// ports with its own data dir. Never the system one: nothing is started globally.

import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { killTree } from '../support/sshd'

export interface TestEtcd {
  endpoint: string
  dataDir: string
  pid: number
  /** SIGKILL, as a crash; the data dir is kept so start() can bring it back */
  kill(): Promise<void>
  /** (re)start on the same ports and data */
  start(): Promise<void>
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1')
  await new Promise((r) => srv.once('listening', r))
  const port = (srv.address() as net.AddressInfo).port
  await new Promise((r) => srv.close(r))
  return port
}

export async function startEtcd(): Promise<TestEtcd> {
  const dir = mkdtempSync('/tmp/be-')
  const [client, peer] = [await freePort(), await freePort()]
  const endpoint = `http://127.0.0.1:${client}`
  let proc: Bun.Subprocess | undefined
  const etcd: TestEtcd = {
    endpoint,
    dataDir: join(dir, 'data'),
    pid: 0,
    async start() {
      proc = Bun.spawn(
        [
          'etcd',
          '--name',
          'test',
          '--data-dir',
          join(dir, 'data'),
          '--listen-client-urls',
          endpoint,
          '--advertise-client-urls',
          endpoint,
          '--listen-peer-urls',
          `http://127.0.0.1:${peer}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${peer}`,
          '--initial-cluster',
          `test=http://127.0.0.1:${peer}`,
        ],
        {
          stdin: 'ignore',
          stdout: 'ignore',
          stderr: Bun.file(join(dir, 'etcd.log')),
          detached: true,
        },
      )
      etcd.pid = proc.pid
      const deadline = Date.now() + 15_000
      while (Date.now() < deadline) {
        try {
          const r = await fetch(`${endpoint}/v3/maintenance/status`, {
            method: 'POST',
            body: '{}',
            signal: AbortSignal.timeout(500),
          })
          if (r.ok) return
        } catch {
          // not listening yet
        }
        if (proc.exitCode !== null)
          throw new Error(`etcd exited with ${proc.exitCode}; see ${dir}/etcd.log`)
        await Bun.sleep(100)
      }
      throw new Error(`etcd did not answer on ${endpoint} within 15 s`)
    },
    async kill() {
      if (!proc) return
      await killTree(proc.pid)
      await proc.exited
      proc = undefined
    },
    async stop() {
      await etcd.kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  await etcd.start()
  return etcd
}
