import { expect, test } from 'bun:test'
import { decodeProcAddress, kernelSource } from './source'

test.each([
  ['0100007F:1F90', '127.0.0.1:8080'],
  ['0200000A:0016', '10.0.0.2:22'],
  ['00000000000000000000000001000000:0016', '[::1]:22'],
  ['0000000000000000FFFF00000100007F:0016', '127.0.0.1:22'],
  ['000080FE000000000200010004000300:01BB', '[fe80::1:2:3:4]:443'],
])('%s reads as %s', (hex, want) => {
  expect(decodeProcAddress(hex)).toBe(want)
})

test('a process that is not under sshd has no kernel source', () => {
  expect(kernelSource(process.pid)).toBeUndefined()
})
