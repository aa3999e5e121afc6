/**
 * The hybrid-vsock handshake of Firecracker and cloud-hypervisor (firecracker docs/vsock.md):
 * the host writes `CONNECT <port>\n`, the VMM answers `OK <host_port>\n` and the stream then
 * carries guest data. host_port is in [2^30, 2^31) so the line is normally 14 bytes, and the guest's
 * SSH banner may arrive in the same read — so the reply is consumed exactly up to its `\n`.
 *
 * The OK line is optional, as in systemd-ssh-proxy (ssh-proxy.c skip_ok_port_res): older muxes and
 * guests that bridge straight to sshd send the banner at once, and some send other lines first. Only
 * one complete `OK <port>\n` is ever consumed; anything else stays in the stream, byte for byte
 * (OpenSSH skips lines before the server's version string, RFC 4253 §4.2). The wait for the reply
 * is bounded like systemd's (5 s, or -w): when it ends, the stream is passed on untouched and a late
 * OK line reaches ssh as one of those skipped lines.
 */
import { fail } from '../../core/errors'
import * as libc from '../../core/ffi/libc'
import * as S from '../../core/ffi/structs'

/** systemd's HEADER_READ_TIMEOUT_USEC */
export const DEFAULT_HANDSHAKE_MS = 5000
/** `OK 4294967295\n`: the longest OK line (the port is a u32) */
const OK_MAX = 14
/** how often to look again while an OK line is arriving in pieces (poll reports old bytes at once) */
const PIECE_WAIT_MS = 5

export type MuxReply =
  | { state: 'ok'; length: number }
  /** could still become an OK line: wait for more */
  | { state: 'partial' }
  /** no OK line: leave every byte where it is */
  | { state: 'pass' }

/** Classifies what the VMM has sent so far. Pure, so it can be tested on every split. */
export function classifyMuxReply(text: string): MuxReply {
  const nl = text.indexOf('\n')
  if (nl >= 0)
    return /^OK [0-9]{1,10}$/.test(text.slice(0, nl))
      ? { state: 'ok', length: nl + 1 }
      : { state: 'pass' }
  return text.length < OK_MAX && /^(O|OK|OK [0-9]*)?$/.test(text)
    ? { state: 'partial' }
    : { state: 'pass' }
}

/** What the handshake found, for --debug. */
export type MuxOutcome = 'ok' | 'no-ok' | 'no-reply'

/**
 * Sends CONNECT on the connected mux socket `fd` and consumes an `OK <port>\n` reply if one comes
 * within `waitMs`. Fails only when the mux closes without a byte (the guest port is not open).
 */
export function muxHandshake(
  fd: number,
  port: number,
  path: string,
  waitMs = DEFAULT_HANDSHAKE_MS,
): MuxOutcome {
  const what = `connect to vsock port ${port} via ${path}`
  // one write, always with the newline: cloud-hypervisor panics on a CONNECT without it (#6798)
  const line = S.utf8(`CONNECT ${port}\n`)
  const sent = libc.trySend(fd, line, 0, line.length, 0)
  if (sent !== line.length)
    fail(what, sent < 0 ? libc.strerror(-sent) : 'short write of the CONNECT line')
  const deadline = Date.now() + waitMs
  const buf = new Uint8Array(OK_MAX + 1)
  const fds = new S.PollFds(1)
  for (let seen = 0; ; ) {
    fds.set(0, fd, S.POLLIN | S.POLLRDHUP)
    const left = deadline - Date.now()
    if (left <= 0 || libc.poll(fds, 1, left) === 0) return seen ? 'no-ok' : 'no-reply'
    // MSG_PEEK: nothing leaves the socket until it is known to be an OK line
    const n = libc.tryRecv(fd, buf, S.MSG_PEEK | S.MSG_DONTWAIT)
    if (n === -S.errno.EAGAIN) continue
    if (n < 0) fail(what, libc.strerror(-n))
    if (n === 0) fail(what, 'port not open', S.errno.ECONNREFUSED)
    const reply = classifyMuxReply(String.fromCharCode(...buf.subarray(0, n)))
    if (reply.state === 'ok') {
      const took = libc.tryRecv(fd, buf.subarray(0, reply.length), S.MSG_DONTWAIT)
      if (took !== reply.length) fail(what, 'the OK reply vanished while reading it')
      return 'ok'
    }
    // the peer has said all it will: a prefix of an OK line stays a prefix
    if (reply.state === 'pass' || fds.revents(0) & (S.POLLRDHUP | S.POLLHUP)) return 'no-ok'
    seen = n
    Bun.sleepSync(PIECE_WAIT_MS)
  }
}
