import { runBackendContract } from '../../proxy/backend.case'
import { backend } from '.'

const v = (cid: number, port: number) => ({ kind: 'vsock' as const, cid, port })

runBackendContract({
  backend,
  valid: [
    ['vsock/3', '22', v(3, 22)],
    ['vsock%4711', '22', v(4711, 22)],
    ['vsock/0x10', '22', v(16, 22)],
    ['vsock/0X1F', '22', v(31, 22)],
    ['vsock/010', '22', v(10, 22)],
    ['vsock/hypervisor', '22', v(0, 22)],
    ['vsock/local', '22', v(1, 22)],
    ['vsock/host', '2222', v(2, 2222)],
    ['vsock/4294967294', '22', v(4294967294, 22)],
    ['vsock/3', '0', v(3, 0)],
    ['vsock/3', '4294967294', v(3, 4294967294)],
  ],
  foreign: ['vsock-mux/run/x', 'vsockx/3', 'unix/run/x', 'vsock', 'example.org'],
  invalid: [
    ['vsock/4294967295', '22', 'VMADDR_CID_ANY'],
    ['vsock/0xffffffff', '22', 'VMADDR_CID_ANY'],
    ['vsock/any', '22', 'VMADDR_CID_ANY'],
    ['vsock/-1', '22', 'VMADDR_CID_ANY'],
    ['vsock/4294967296', '22', 'does not fit in 32 bits'],
    ['vsock/99999999999', '22', 'expected a decimal or 0x-hex number'],
    ['vsock/three', '22', 'expected a decimal or 0x-hex number'],
    ['vsock/', '22', 'expected a decimal or 0x-hex number'],
    ['vsock/3 ', '22', 'expected a decimal or 0x-hex number'],
    ['vsock/3', 'ssh', "parse vsock port 'ssh'"],
    ['vsock/3', '4294967295', 'VMADDR_PORT_ANY'],
    ['vsock/3', '-1', "parse vsock port '-1'"],
  ],
  live: {
    skip: 'never connect AF_VSOCK here: every connect leaves the sandbox (DEVELOPERS.md rule 2)',
  },
})
