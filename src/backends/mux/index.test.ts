import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { spawnMuxPeer } from '../../../tests/support/mux-peer'
import { runBackendContract } from '../../proxy/backend.case'
import { expectHello, helloUnix } from '../../proxy/testing'
import { backend } from '.'

const m = (path: string, port: number) => ({ kind: 'vsock-mux' as const, path, port })

runBackendContract({
  backend,
  valid: [
    ['vsock-mux/run/fc/v.sock', '22', m('/run/fc/v.sock', 22)],
    ['vsock-mux%/run/fc/v.sock', '22', m('/run/fc/v.sock', 22)],
    ['vsock-mux%run/V.sock', '2222', m('/run/V.sock', 2222)],
    ['vsock-mux/./v.sock', '22', m('./v.sock', 22)],
    ['vsock-mux/v.sock', '4294967294', m('/v.sock', 4294967294)],
  ],
  foreign: ['vsock/3', 'unix/run/x', 'vsock-muxx/run/x', 'vsock-mux', 'example.org'],
  invalid: [
    ['vsock-mux/', '22', 'the socket path is empty'],
    ['vsock-mux/run/v.sock', '4294967295', 'VMADDR_PORT_ANY'],
    ['vsock-mux/run/v.sock', 'x', "parse vsock port 'x'"],
  ],
  live: {
    open: async () => {
      const target = helloUnix()
      const dir = mkdtempSync('/tmp/burrow-mux-')
      const peer = await spawnMuxPeer({
        path: join(dir, 'v.sock'),
        ports: { 22: target.path },
        behaviour: 'ok',
      })
      return {
        address: m(peer.path, 22),
        check: expectHello,
        stop: async () => {
          await peer.stop()
          await target.stop()
          rmSync(dir, { recursive: true, force: true })
        },
      }
    },
  },
})
