import { describe, expect, test } from 'bun:test'
import { expandDests, expandNodeset, parseDest } from './dest'

describe('destinations', () => {
  test.each([
    ['node[1-3]', ['node1', 'node2', 'node3']],
    ['n[01-03,7]:2222', ['n01:2222', 'n02:2222', 'n03:2222', 'n7:2222']],
    ['r[1-2]n[1-2]', ['r1n1', 'r1n2', 'r2n1', 'r2n2']],
    ['plain', ['plain']],
  ])('expands %p', (text, expected) => {
    expect(expandNodeset(text)).toEqual(expected)
  })

  test.each([
    ['login1', { id: 'login1:22', host: 'login1', port: 22 }],
    ['10.0.0.1:2222', { id: '10.0.0.1:2222', host: '10.0.0.1', port: 2222 }],
    ['[::1]:2200', { id: '[::1]:2200', host: '::1', port: 2200 }],
    [
      'unix/run/vm.sock',
      { id: 'unix/run/vm.sock', host: 'unix/run/vm.sock', port: 22, address: 'unix/run/vm.sock' },
    ],
    [
      'unix%/run/vm.sock',
      { id: 'unix/run/vm.sock', host: 'unix/run/vm.sock', port: 22, address: 'unix/run/vm.sock' },
    ],
    ['vsock/4711', { id: 'vsock/4711', host: 'vsock/4711', port: 22, address: 'vsock/4711' }],
    [
      'vsock/4711:2222',
      { id: 'vsock/4711:2222', host: 'vsock/4711', port: 2222, address: 'vsock/4711' },
    ],
  ])('parses %p', (entry, expected) => {
    expect(parseDest(entry)).toEqual(expected)
  })

  test.each([
    ['-oProxyCommand=x', 'is not a host name'],
    ['host:99999', 'bad port'],
    ['a b', 'is not a host name'],
    ['vsock/any', 'VMADDR_CID_ANY'],
    ['n[3-1]', 'runs backwards'],
    ['n[1-', 'unbalanced'],
  ])('rejects %p', (entry, message) => {
    expect(() => expandDests([entry])).toThrow(message)
  })

  test('drops duplicates and keeps config order', () => {
    expect(expandDests(['b', 'a', 'b:22', 'a[1-2]']).map((d) => d.id)).toEqual([
      'b:22',
      'a:22',
      'a1:22',
      'a2:22',
    ])
  })
})

test('an IPv6 literal in brackets is not a nodeset', () => {
  expect(expandDests(['[::1]:2200', '[fe80::1]']).map((d) => d.id)).toEqual([
    '[::1]:2200',
    '[fe80::1]:22',
  ])
})
