import { runBackendContract } from '../../proxy/backend.case'
import { backend } from '.'

runBackendContract({
  backend,
  valid: [
    ['incus/c1', '22', { kind: 'incus', remote: '', instance: 'c1', project: 'default', port: 22 }],
    [
      'incus%c1.dev',
      '2222',
      { kind: 'incus', remote: '', instance: 'c1', project: 'dev', port: 2222 },
    ],
    [
      'incus/lab:Web-1',
      '22',
      { kind: 'incus', remote: 'lab', instance: 'Web-1', project: 'default', port: 22 },
    ],
    [
      'incus%my.remote:c1.p_2',
      '80',
      { kind: 'incus', remote: 'my.remote', instance: 'c1', project: 'p_2', port: 80 },
    ],
  ],
  foreign: ['unix/run/x', 'vsock/3', 'qemu/vm', 'incus', 'incusx/c1', 'example.org'],
  invalid: [
    ['incus/', '22', "'' is not an instance name"],
    ['incus/1c', '22', "'1c' is not an instance name"],
    ['incus/c_1', '22', "'c_1' is not an instance name"],
    ['incus/c1.', '22', "'' is not a project name"],
    ['incus/c1', '0', 'out of range'],
    ['incus/a b:c1', '22', "'a b' is not a remote name"],
  ],
  // opening needs a running container with a listener: tests/e2e/incus-proxy.test.ts does that
  live: { skip: 'needs a container; covered by tests/e2e/incus-proxy.test.ts' },
})
