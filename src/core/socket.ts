/** Connecting sockets through libc, shared by every socket-backed backend. */
import { BurrowError, SyscallError } from './errors'
import * as libc from './ffi/libc'
import * as S from './ffi/structs'

/**
 * A connected SOCK_STREAM socket (blocking, close-on-exec) for `sa`; the fd is closed on every
 * failure path. AF_UNIX connects are immediate unless the listener's backlog is full, and then
 * only SO_SNDTIMEO bounds the wait (a non-blocking AF_UNIX connect just fails with EAGAIN);
 * other families use a non-blocking connect plus poll.
 */
export function connectSocket(family: number, sa: Uint8Array, timeoutMs?: number): number {
  const unix = family === S.AF_UNIX
  const fd = libc.socket(family, S.SOCK_STREAM | (unix ? 0 : S.SOCK_NONBLOCK))
  try {
    if (unix && timeoutMs !== undefined)
      libc.setsockopt(fd, S.SOL_SOCKET, S.SO_SNDTIMEO, S.timeval(timeoutMs))
    let rc = libc.tryConnect(fd, sa)
    if (rc === -S.errno.EINPROGRESS) rc = awaitConnect(fd, timeoutMs)
    if (rc === -S.errno.EAGAIN && unix) rc = -S.errno.ETIMEDOUT
    if (rc < 0) throw new SyscallError('connect', -rc, libc.strerror(-rc))
    if (unix && timeoutMs !== undefined)
      libc.setsockopt(fd, S.SOL_SOCKET, S.SO_SNDTIMEO, S.timeval(0))
    if (!unix) libc.setNonBlocking(fd, false)
    return fd
  } catch (err) {
    libc.close(fd)
    throw err
  }
}

function awaitConnect(fd: number, timeoutMs?: number): number {
  const fds = new S.PollFds(1)
  fds.set(0, fd, S.POLLOUT)
  if (libc.poll(fds, 1, timeoutMs ?? -1) === 0) return -S.errno.ETIMEDOUT
  const err = libc.getsockoptInt(fd, S.SOL_SOCKET, S.SO_ERROR)
  return err === 0 ? 0 : -err
}

/**
 * Does stdio look like ssh's ProxyUseFdpass? ssh hands the proxy one end of a socketpair as both
 * stdin and stdout (sshconnect.c ssh_proxy_fdpass_connect). libuv-based parents (Node, Bun)
 * use a separate socketpair per stdio stream, and ssh without fd passing uses pipes: both relay.
 */
export function stdioWantsFd(): boolean {
  if (!isUnixSocket(1)) return false
  const [i, o] = [libc.statx(0), libc.statx(1)]
  return i.ino === o.ino && i.dev === o.dev
}

/** Is `fd` a unix-domain socket (so it can carry SCM_RIGHTS)? */
export function isUnixSocket(fd: number): boolean {
  return libc.trySockoptInt(fd, S.SOL_SOCKET, S.SO_DOMAIN) === S.AF_UNIX
}

export function isSocket(fd: number): boolean {
  return libc.trySockoptInt(fd, S.SOL_SOCKET, S.SO_TYPE) !== undefined
}

/** Hands `fd` to ssh over stdout (ProxyUseFdpass). */
export function handOver(fd: number): void {
  try {
    libc.sendFd(1, fd)
  } catch (err) {
    const reason = err instanceof SyscallError ? err.reason : String(err)
    throw new BurrowError(
      `Failed to send socket via stdout: ${reason} (is ssh running with ProxyUseFdpass yes? use --pump otherwise)`,
    )
  }
}
