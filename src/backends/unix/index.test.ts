import { runBackendContract } from '../../proxy/backend.case'
import { expectHello, helloUnix } from '../../proxy/testing'
import { backend } from '.'

runBackendContract({
  backend,
  valid: [
    ['unix/run/x.sock', '22', { kind: 'unix', path: '/run/x.sock', port: 22 }],
    ['unix%/run/x.sock', '22', { kind: 'unix', path: '/run/x.sock', port: 22 }],
    ['unix%run/x.sock', '2222', { kind: 'unix', path: '/run/x.sock', port: 2222 }],
    ['unix//run/x.sock', '22', { kind: 'unix', path: '/run/x.sock', port: 22 }],
    ['unix/./rel.sock', '22', { kind: 'unix', path: './rel.sock', port: 22 }],
    ['unix/tmp/MiXeD Case', '22', { kind: 'unix', path: '/tmp/MiXeD Case', port: 22 }],
    ['.host', '22', { kind: 'unix', path: '/run/ssh-unix-local/socket', port: 22 }],
  ],
  foreign: ['vsock/3', 'vsock-mux/run/x', 'unixx/run/x', 'example.org', 'unix', 'host'],
  invalid: [
    ['unix/', '22', 'the socket path is empty'],
    ['unix%', '22', 'the socket path is empty'],
    ['unix/run/x', 'ssh', "'ssh' is not a decimal number"],
    ['unix/run/x', '99999999999', 'is not a decimal number'],
    ['unix/run/\nx', '22', 'control character'],
    ['unix/run/\0x', '22', 'control character'],
  ],
  live: {
    open: async () => {
      const peer = helloUnix()
      return {
        address: { kind: 'unix', path: peer.path, port: 22 },
        check: expectHello,
        stop: peer.stop,
      }
    },
  },
})
