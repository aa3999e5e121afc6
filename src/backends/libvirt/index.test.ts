import { runBackendContract } from '../../proxy/backend.case'
import { backend } from '.'

const SYSTEM = 'qemu:///system'
const SESSION = 'qemu:///session'
const d = (name: string, port = 22, uri?: string) => ({
  kind: 'libvirt' as const,
  name,
  port,
  ...(uri ? { uri } : {}),
})

runBackendContract({
  backend,
  valid: [
    ['qemu:system/vm', '22', d('vm', 22, SYSTEM)],
    ['qemu:system%vm', '22', d('vm', 22, SYSTEM)],
    ['qemu:session/vm', '2222', d('vm', 2222, SESSION)],
    ['qemu:session%My-VM.1', '22', d('My-VM.1', 22, SESSION)],
    ['qemu/MyVM', '22', d('MyVM')],
    ['qemu%MyVM', '22', d('MyVM')],
    ['qemu/c2c09492-30c0-464d-80e3-bec4bc655a72', '22', d('c2c09492-30c0-464d-80e3-bec4bc655a72')],
    ['qemu:system/7', '22', d('7', 22, SYSTEM)],
    ['qemu/vm', '4294967294', d('vm', 4294967294)],
    ['qemu/vm%x', '22', d('vm%x')],
  ],
  foreign: [
    'qemu',
    'qemu.example.org',
    'qemux/vm',
    'qemu-img',
    'vsock/3',
    'unix/run/x',
    'vsock-mux/run/x',
  ],
  invalid: [
    [
      'qemu:foo/vm',
      '22',
      "Unknown connection URI 'qemu:foo' (use qemu:system/NAME, qemu:session/NAME or qemu/NAME)",
    ],
    ['qemu:System/vm', '22', "Unknown connection URI 'qemu:System'"],
    ['qemu:/vm', '22', "Unknown connection URI 'qemu:'"],
    ['qemu:///system/vm', '22', "Unknown connection URI 'qemu:'"],
    [
      'qemu:system',
      '22',
      'the separator is missing (expected qemu:system/NAME or qemu:system%NAME)',
    ],
    ['qemu/', '22', 'the domain name is empty'],
    ['qemu%', '22', 'the domain name is empty'],
    ['qemu:session/', '22', 'the domain name is empty'],
    ['qemu/system/vm', '22', "cannot contain '/'; did you mean qemu:system/vm?"],
    ['qemu/a/b', '22', "libvirt domain names cannot contain '/'"],
    ['qemu/vm', 'ssh', "parse vsock port 'ssh'"],
    ['qemu:system/vm', '4294967295', 'VMADDR_PORT_ANY'],
  ],
  live: {
    skip: 'resolving works against libvirtd (lookup.test.ts, tests/e2e/libvirt.test.ts), but opening connects AF_VSOCK, which leaves the sandbox here',
  },
})
