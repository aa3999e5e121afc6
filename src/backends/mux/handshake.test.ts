import { describe, expect, test } from 'bun:test'
import { classifyMuxReply } from './handshake'

describe('classifyMuxReply', () => {
  test.each([
    ['OK 1073741824\n', { state: 'ok', length: 14 }],
    ['OK 1073741824\nSSH-2.0-OpenSSH_9.2\r\n', { state: 'ok', length: 14 }],
    ['OK 4294967295\n', { state: 'ok', length: 14 }],
    ['OK 22\n', { state: 'ok', length: 6 }],
    ['', { state: 'partial' }],
    ['O', { state: 'partial' }],
    ['OK', { state: 'partial' }],
    ['OK ', { state: 'partial' }],
    ['OK 10737', { state: 'partial' }],
    ['S', { state: 'partial' }],
    ['SSH-2.0-OpenSSH', { state: 'no-ok' }],
    ['SSH-2.0-OpenSSH_9.2\r\n', { state: 'no-ok' }],
    ['HELLO WORLD\n', { state: 'garbage', line: 'HELLO WORLD' }],
    ['ERR\n', { state: 'garbage', line: 'ERR' }],
    ['OK\n', { state: 'garbage', line: 'OK' }],
    ['OK abc\n', { state: 'garbage', line: 'OK abc' }],
    ['OK 12345678901\n', { state: 'garbage', line: 'OK 12345678901' }],
    ['ok 22\n', { state: 'garbage', line: 'ok 22' }],
    ['X', { state: 'garbage', line: 'X' }],
    [`OK ${'1'.repeat(40)}`, { state: 'garbage', line: `OK ${'1'.repeat(29)}` }],
  ])('%p is %p', (text, want) => {
    expect(classifyMuxReply(text)).toEqual(want as never)
  })

  test('every split of a real 14-byte OK line is partial until the newline', () => {
    const line = 'OK 1073741824\n'
    for (let i = 0; i < line.length; i++) expect(classifyMuxReply(line.slice(0, i)).state).toBe('partial')
    expect(classifyMuxReply(line).state).toBe('ok')
  })
})
