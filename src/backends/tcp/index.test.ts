import { runBackendContract } from '../../proxy/backend.case'
import { expectHello, helloTcp } from '../../proxy/testing'
import { backend } from '.'

const t = (host: string, port: number) => ({ kind: 'tcp' as const, host, port })

runBackendContract({
  backend,
  valid: [
    ['example.org', '22', t('example.org', 22)],
    ['127.0.0.1', '2222', t('127.0.0.1', 2222)],
    ['::1', '22', t('::1', 22)],
    ['[::1]', '22', t('::1', 22)],
    ['fe80::1%lo', '22', t('fe80::1%lo', 22)],
    ['gw-01.internal', '65535', t('gw-01.internal', 65535)],
  ],
  foreign: ['unix/run/x', 'vsock/3', 'vsock-mux/x', 'qemu:system/vm', 'a/b', '.host'],
  invalid: [
    ['example.org', '0', 'out of range'],
    ['example.org', '65536', 'out of range'],
    ['example.org', '2x', 'is not a decimal number'],
    ['vsok/3', '22', 'did you mean vsock/3?'],
    ['unx%/run/x', '22', 'did you mean unix%/run/x?'],
    ['-oProxyCommand=x', '22', 'unknown form'],
  ],
  live: {
    open: async () => {
      const peer = helloTcp()
      return {
        address: { kind: 'tcp', host: '127.0.0.1', port: peer.port },
        check: expectHello,
        stop: peer.stop,
      }
    },
  },
})
