// A stand-in for systemd-machined's varlink service io.systemd.Machine, which cannot run here
// (machined needs systemd as PID 1). It answers io.systemd.Machine.List as machined 257 does
// (systemd src/machine/machine-varlink.c, src/shared/varlink-io.systemd.Machine.c):
//   - varlink framing: one JSON object per message, each ending in a NUL byte; several calls
//     may share a connection
//   - List {name}: the machine's record {name, id, service, class, leader, rootDirectory?, unit,
//     timestamp {realtime, monotonic}, vSockCid?, sshAddress?}; fields that are unset are left out
//   - a name that fails hostname_is_valid(VALID_HOSTNAME_DOT_HOST): org.varlink.service.InvalidParameter
//     {"parameter": "name"}; an unknown name: io.systemd.Machine.NoSuchMachine with empty parameters
//   - List without a name needs the `more` flag (org.varlink.service.ExpectedMore otherwise), then
//     one reply per machine with "continues": true on all but the last
//   - unknown parameters: InvalidParameter; unknown methods: org.varlink.service.MethodNotFound
//   - `.host` is always registered, with class "host"

import { existsSync, unlinkSync } from 'node:fs'
import net from 'node:net'

export interface PeerMachine {
  name: string
  class: 'vm' | 'container' | 'host'
  service?: string
  vSockCid?: number
  leader?: number
  rootDirectory?: string
  sshAddress?: string
}

export interface MachinedPeer {
  path: string
  /** method calls received, in order */
  readonly calls: { method: string; parameters: Record<string, unknown> }[]
  stop(): Promise<void>
}

const validName = (n: string) =>
  n === '.host' || (n.length <= 64 && /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(n))

function record(m: PeerMachine): Record<string, unknown> {
  const id = Buffer.from(m.name.padEnd(16, '0').slice(0, 16)).toString('hex')
  const now = Date.now() * 1000
  return {
    name: m.name,
    id,
    ...(m.service ? { service: m.service } : {}),
    class: m.class,
    ...(m.leader ? { leader: m.leader } : {}),
    ...(m.rootDirectory ? { rootDirectory: m.rootDirectory } : {}),
    unit: m.class === 'host' ? '-.slice' : `machine-${m.name}.scope`,
    timestamp: { realtime: now, monotonic: Math.round(performance.now() * 1000) },
    ...(m.vSockCid !== undefined ? { vSockCid: m.vSockCid } : {}),
    ...(m.sshAddress ? { sshAddress: m.sshAddress } : {}),
  }
}

export async function startMachinedPeer(
  path: string,
  machines: PeerMachine[],
): Promise<MachinedPeer> {
  const all = new Map<string, PeerMachine>([
    ['.host', { name: '.host', class: 'host', leader: 1, rootDirectory: '/' }],
  ])
  for (const m of machines) all.set(m.name, m)
  const calls: MachinedPeer['calls'] = []
  const sockets = new Set<net.Socket>()

  const answer = (msg: { method?: unknown; parameters?: unknown; more?: unknown }): object[] => {
    const parameters = (msg.parameters ?? {}) as Record<string, unknown>
    calls.push({ method: String(msg.method), parameters })
    if (msg.method !== 'io.systemd.Machine.List') {
      return [{ error: 'org.varlink.service.MethodNotFound', parameters: { method: msg.method } }]
    }
    for (const key of Object.keys(parameters)) {
      if (key !== 'name' && key !== 'pid')
        return [{ error: 'org.varlink.service.InvalidParameter', parameters: { parameter: key } }]
    }
    const name = parameters.name
    if (name !== undefined && name !== null) {
      if (typeof name !== 'string' || !validName(name)) {
        return [
          { error: 'org.varlink.service.InvalidParameter', parameters: { parameter: 'name' } },
        ]
      }
      const m = all.get(name)
      return m
        ? [{ parameters: record(m) }]
        : [{ error: 'io.systemd.Machine.NoSuchMachine', parameters: {} }]
    }
    if (msg.more !== true) return [{ error: 'org.varlink.service.ExpectedMore', parameters: {} }]
    const list = [...all.values()]
    return list.map((m, i) => ({
      parameters: record(m),
      ...(i < list.length - 1 ? { continues: true } : {}),
    }))
  }

  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => s.destroy())
    let buf = Buffer.alloc(0)
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      for (let nul = buf.indexOf(0); nul >= 0; nul = buf.indexOf(0)) {
        const text = buf.subarray(0, nul).toString('utf8')
        buf = buf.subarray(nul + 1)
        let msg: unknown
        try {
          msg = JSON.parse(text)
        } catch {
          // sd-varlink drops a connection that sends something that is not JSON
          s.destroy()
          return
        }
        for (const reply of answer(msg as object))
          s.write(Buffer.concat([Buffer.from(JSON.stringify(reply)), Buffer.from([0])]))
      }
    })
  })
  if (existsSync(path)) unlinkSync(path)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  return {
    path,
    get calls() {
      return [...calls]
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
