/**
 * The hybrid-vsock handshake of Firecracker and cloud-hypervisor (firecracker docs/vsock.md):
 * the host writes `CONNECT <port>\n`, the VMM answers `OK <host_port>\n` and the stream then
 * carries guest data. host_port is in [2^30, 2^31) so the line is normally 14 bytes, and the guest's
 * SSH banner may arrive in the same read — so the reply is consumed exactly up to its `\n`.
 */
import { fail } from '../../core/errors'
import * as libc from '../../core/ffi/libc'
import * as S from '../../core/ffi/structs'

/** Longest reply line accepted; Firecracker itself reads commands of at most 32 bytes. */
const MAX_LINE = 32
export const DEFAULT_HANDSHAKE_MS = 5000

export type MuxReply =
  | { state: 'ok'; length: number }
  | { state: 'partial' }
  /** the VMM forwarded the guest's banner without an OK line (muxes older than the OK reply) */
  | { state: 'no-ok' }
  | { state: 'garbage'; line: string }

/** Classifies what the VMM has sent so far. Pure, so it can be tested on every split. */
export function classifyMuxReply(text: string): MuxReply {
  const nl = text.indexOf('\n')
  if (nl >= 0) {
    const line = text.slice(0, nl)
    if (/^OK [0-9]{1,10}$/.test(line)) return { state: 'ok', length: nl + 1 }
    return line.startsWith('SSH-') ? { state: 'no-ok' } : { state: 'garbage', line }
  }
  if (text.length > MAX_LINE) return { state: 'garbage', line: text.slice(0, MAX_LINE) }
  if (/^OK [0-9]*$/.test(text) || 'OK '.startsWith(text)) return { state: 'partial' }
  if (text.startsWith('SSH-')) return { state: 'no-ok' }
  if ('SSH-'.startsWith(text)) return { state: 'partial' }
  return { state: 'garbage', line: text }
}

/** Sends CONNECT on the connected mux socket `fd` and consumes the OK line. */
export function muxHandshake(fd: number, port: number, path: string, timeoutMs = DEFAULT_HANDSHAKE_MS): void {
  const what = `connect to vsock port ${port} via ${path}`
  // one write, always with the newline: cloud-hypervisor panics on a CONNECT without it (#6798)
  const line = Buffer.from(`CONNECT ${port}\n`)
  const sent = libc.trySend(fd, line, 0, line.length, 0)
  if (sent !== line.length) fail(what, sent < 0 ? libc.strerror(-sent) : 'short write of the CONNECT line')
  const deadline = Date.now() + timeoutMs
  const buf = new Uint8Array(MAX_LINE + 1)
  const fds = new S.PollFds(1)
  let consumed = ''
  for (;;) {
    fds.set(0, fd, S.POLLIN)
    const left = deadline - Date.now()
    if (left <= 0 || libc.poll(fds, 1, left) === 0) {
      fail(what, `no reply within ${timeoutMs / 1000} s (is ${path} a Firecracker/cloud-hypervisor vsock socket?)`)
    }
    const n = libc.tryRecv(fd, buf, S.MSG_PEEK | S.MSG_DONTWAIT)
    if (n === -S.errno.EAGAIN) continue
    if (n < 0) fail(what, libc.strerror(-n))
    if (n === 0) {
      fail(what, consumed === '' ? 'port not open' : `the connection closed after '${consumed}'`)
    }
    const text = consumed + Buffer.from(buf.subarray(0, n)).toString('latin1')
    const reply = classifyMuxReply(text)
    switch (reply.state) {
      case 'ok':
        return take(fd, buf, reply.length - consumed.length, what)
      case 'no-ok':
        if (consumed === '') return
        fail(what, `unexpected reply '${text.trim()}'`)
      case 'garbage':
        fail(what, `unexpected reply '${reply.line.trim()}' (expected 'OK <port>')`)
      case 'partial':
        // an OK line in pieces: take what is there so the next poll waits for the rest
        if (text.startsWith('O')) {
          take(fd, buf, n, what)
          consumed = text
        } else Bun.sleepSync(10) // maybe a banner: never consume it, look again shortly
    }
  }
}

function take(fd: number, buf: Uint8Array, count: number, what: string): void {
  const n = libc.tryRecv(fd, buf.subarray(0, count), S.MSG_DONTWAIT)
  if (n !== count) fail(what, 'the reply vanished while reading it')
}
