import { describe, expect, test } from 'bun:test'
import { classifyMuxReply } from './handshake'

const banner = 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'

describe('classifyMuxReply', () => {
  test.each([
    ['OK 1073741824\n', { state: 'ok', length: 14 }],
    [`OK 1073741824\n${banner}`, { state: 'ok', length: 14 }],
    ['OK 4294967295\n', { state: 'ok', length: 14 }],
    ['OK 22\n', { state: 'ok', length: 6 }],
    ['', { state: 'partial' }],
    ['O', { state: 'partial' }],
    ['OK', { state: 'partial' }],
    ['OK ', { state: 'partial' }],
    ['OK 10737', { state: 'partial' }],
    ['OK 1073741824', { state: 'partial' }],
    // no OK line: the stream is passed on as it is, however long the banner
    ['S', { state: 'pass' }],
    ['SSH-2.0-OpenSSH', { state: 'pass' }],
    [banner, { state: 'pass' }],
    [banner.slice(0, 15), { state: 'pass' }],
    ['HELLO\n', { state: 'pass' }],
    [`HELLO\n${banner}`, { state: 'pass' }],
    ['ERR\n', { state: 'pass' }],
    ['OK\n', { state: 'pass' }],
    ['OK abc\n', { state: 'pass' }],
    ['OK 12345678901\n', { state: 'pass' }],
    ['OK 12345678901', { state: 'pass' }],
    ['ok 22\n', { state: 'pass' }],
    ['OKAY\n', { state: 'pass' }],
    ['X', { state: 'pass' }],
  ])('%p is %p', (text, want) => {
    expect(classifyMuxReply(text)).toEqual(want as never)
  })

  test('every split of a real 14-byte OK line is partial until the newline', () => {
    const line = 'OK 1073741824\n'
    for (let i = 0; i < line.length; i++)
      expect(classifyMuxReply(line.slice(0, i)).state).toBe('partial')
    expect(classifyMuxReply(line).state).toBe('ok')
  })
})
