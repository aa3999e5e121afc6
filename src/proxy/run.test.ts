import { describe, expect, test } from 'bun:test'
import { pickHost } from './run'

describe('pickHost undoes OpenSSH lowercasing of %h', () => {
  test.each([
    ['unix/tmp/abc', 'unix/tmp/AbC', 'unix/tmp/AbC'],
    ['unix%/tmp/AbC', 'unix%/tmp/AbC', 'unix%/tmp/AbC'],
    ['qemu/myvm', 'qemu/MyVM', 'qemu/MyVM'],
    ['unix/run/vm.sock', 'myvm', 'unix/run/vm.sock'], // an alias: %n is the alias, %h the HostName
    ['unix/tmp/Éa', 'unix/tmp/ÉA', 'unix/tmp/ÉA'],
    ['unix/tmp/éa', 'unix/tmp/ÉA', 'unix/tmp/éa'], // not ssh's folding: keep %h
    ['vsock/3', undefined, 'vsock/3'],
  ])('%%h %p with %%n %p connects to %p', (h, n, want) => {
    expect(pickHost(h, n)).toBe(want)
  })
})
