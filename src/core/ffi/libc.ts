/**
 * Typed libc wrappers. Wrappers named after the call throw SyscallError on -1; `try*` wrappers
 * are for hot or non-blocking paths and return -errno instead. Every buffer handed to C stays
 * referenced by a local until the call returns; Bun's ptr() does not move typed-array memory.
 */
import { SyscallError } from '../errors'
import { cstring, libc, type Pointer, ptr, readI32, readPtr } from './native'
import * as S from './structs'

/** errno of the last failed call; read at once, before anything else can touch it. */
export function lastErrno(): number {
  return readI32(libc().__errno_location() as Pointer)
}

export function strerror(no: number): string {
  return cstring(libc().strerror(no) as Pointer) ?? `errno ${no}`
}

function check(call: string, rc: number): number {
  if (rc < 0) {
    const no = lastErrno()
    throw new SyscallError(call, no, strerror(no))
  }
  return rc
}

/** -errno on failure, the result otherwise; EINTR is retried. */
function soft(fn: () => number): number {
  for (;;) {
    const rc = fn()
    if (rc >= 0) return rc
    const no = lastErrno()
    if (no !== S.errno.EINTR) return -no
  }
}

const cstr = (s: string) => S.utf8(`${s}\0`)

export function socket(domain: number, type: number): number {
  return check('socket', libc().socket(domain, type | S.SOCK_CLOEXEC, 0))
}

export function socketpair(): [number, number] {
  const fds = new Int32Array(2)
  check('socketpair', libc().socketpair(S.AF_UNIX, S.SOCK_STREAM | S.SOCK_CLOEXEC, 0, fds))
  return [fds[0]!, fds[1]!]
}

export function tryConnect(fd: number, sa: Uint8Array): number {
  return soft(() => libc().connect(fd, sa, sa.byteLength))
}

export function close(fd: number): void {
  libc().close(fd)
}

export function shutdown(fd: number, how: number): number {
  return soft(() => libc().shutdown(fd, how))
}

export function getsockoptInt(fd: number, level: number, name: number): number {
  const val = new Int32Array(1)
  const len = new Uint32Array([4])
  check('getsockopt', libc().getsockopt(fd, level, name, val, len))
  return val[0]!
}

export function trySockoptInt(fd: number, level: number, name: number): number | undefined {
  const val = new Int32Array(1)
  const len = new Uint32Array([4])
  return libc().getsockopt(fd, level, name, val, len) < 0 ? undefined : val[0]!
}

export function setsockopt(fd: number, level: number, name: number, value: Uint8Array): void {
  check('setsockopt', libc().setsockopt(fd, level, name, value, value.byteLength))
}

export function setNonBlocking(fd: number, on = true): void {
  const flags = check('fcntl', libc().fcntl(fd, S.F_GETFL, 0))
  const next = on ? flags | S.O_NONBLOCK : flags & ~S.O_NONBLOCK
  if (next !== flags) check('fcntl', libc().fcntl(fd, S.F_SETFL, next))
}

export function openPath(path: string): number {
  const p = cstr(path)
  return check('open', libc().open(p, S.O_PATH | S.O_CLOEXEC, 0))
}

/** open(2) read-only, close-on-exec (namespace files for setns) */
export function openRead(path: string): number {
  const p = cstr(path)
  return check('open', libc().open(p, S.O_RDONLY | S.O_CLOEXEC, 0))
}

/** openat2(2) (kernel 5.6+): `path` under `dirfd` with RESOLVE_* rules */
export function openat2(dirfd: number, path: string, flags: number, resolve: number): number {
  const p = cstr(path)
  const how = S.openHow(flags | S.O_CLOEXEC, resolve)
  const rc = Number(libc().syscall(S.SYS_openat2, dirfd, p, ptr(how), how.byteLength, null))
  return check('openat2', rc)
}

/**
 * Type and identity of `path` (relative to `fd`, S.AT_FDCWD for the working directory; symlinks
 * followed), or of the open `fd` itself when `path` is empty:
 * statx(2) through syscall(2), because node:fs costs ~2 ms of start-up in every ssh connection.
 */
export function statx(fd: number, path = ''): S.FileId {
  const p = cstr(path)
  const buf = new Uint8Array(S.STATX_SIZE)
  const flags = path ? 0 : S.AT_EMPTY_PATH
  check('statx', Number(libc().syscall(S.SYS_statx, fd, p, flags, S.STATX_TYPE | S.STATX_INO, buf)))
  return S.fileIdOf(buf)
}

/**
 * Writes all of `text` to `fd` (blocking, waiting out EAGAIN on a non-blocking one), as
 * fs.writeSync would, without loading node:fs.
 */
export function writeAll(fd: number, text: string): void {
  const buf = S.utf8(text)
  const pfd = new S.PollFds(1)
  pfd.set(0, fd, S.POLLOUT)
  for (let off = 0; off < buf.byteLength; ) {
    const n = tryWrite(fd, buf, off, buf.byteLength)
    if (n >= 0) off += n
    else if (n === -S.errno.EAGAIN) poll(pfd, 1, -1)
    else throw new SyscallError('write', -n, strerror(-n))
  }
}

export function openDir(path: string): number {
  const p = cstr(path)
  return check('open', libc().open(p, S.O_PATH | S.O_DIRECTORY | S.O_CLOEXEC, 0))
}

/** flock(2), waiting (EINTR retried); the lock goes with the last close of the open file */
export function flock(fd: number, op: number): void {
  const rc = soft(() => libc().flock(fd, op))
  if (rc < 0) throw new SyscallError('flock', -rc, strerror(-rc))
}

/** setns(2) for the calling thread */
export function setns(fd: number, nstype: number): void {
  check('setns', libc().setns(fd, nstype))
}

export function poll(fds: S.PollFds, count: number, timeoutMs: number): number {
  return soft(() => libc().poll(fds.bytes, count, timeoutMs))
}

export function trySplice(from: number, to: number, len: number): number {
  return soft(() =>
    Number(libc().splice(from, null, to, null, len, S.SPLICE_F_MOVE | S.SPLICE_F_NONBLOCK)),
  )
}

export function tryRead(fd: number, buf: Uint8Array, off = 0): number {
  return soft(() => Number(libc().read(fd, ptr(buf, off), buf.byteLength - off)))
}

export function tryWrite(fd: number, buf: Uint8Array, off: number, end: number): number {
  return soft(() => Number(libc().write(fd, ptr(buf, off), end - off)))
}

export function tryRecv(fd: number, buf: Uint8Array, flags: number, off = 0): number {
  return soft(() => Number(libc().recv(fd, ptr(buf, off), buf.byteLength - off, flags)))
}

export function trySend(
  fd: number,
  buf: Uint8Array,
  off: number,
  end: number,
  flags: number,
): number {
  return soft(() => Number(libc().send(fd, ptr(buf, off), end - off, flags | S.MSG_NOSIGNAL)))
}

/**
 * Sends `fd` over the unix socket `via` the way OpenSSH's ProxyUseFdpass expects: exactly one
 * data byte (NUL) plus one SCM_RIGHTS control message (openssh-portable monitor_fdpass.c).
 */
export function sendFd(via: number, fd: number): void {
  const byte = new Uint8Array(1)
  const iov = S.iovec(ptr(byte), 1)
  const control = S.cmsgRights(fd)
  const msg = S.msghdr(ptr(iov), ptr(control), S.CMSG_SPACE_INT)
  check(
    'sendmsg',
    soft(() => Number(libc().sendmsg(via, msg, S.MSG_NOSIGNAL))),
  )
  void [byte, iov, control]
}

/** Receives one fd sent by sendFd (blocking); undefined when the peer sent data without an fd. */
export function recvFd(via: number): number | undefined {
  const byte = new Uint8Array(1)
  const iov = S.iovec(ptr(byte), 1)
  const control = new Uint8Array(S.CMSG_SPACE_INT)
  const msg = S.msghdr(ptr(iov), ptr(control), S.CMSG_SPACE_INT)
  const n = check(
    'recvmsg',
    soft(() => Number(libc().recvmsg(via, msg, S.MSG_CMSG_CLOEXEC))),
  )
  if (n !== 1) return undefined
  const controllen = Number(new DataView(msg.buffer).getBigUint64(S.MSGHDR_CONTROLLEN_OFFSET, true))
  void [byte, iov]
  return S.cmsgRightsFd(control, controllen)
}

/** Asks the kernel to send us SIGTERM when our parent dies, so a proxy never outlives ssh. */
export function dieWithParent(): void {
  check('prctl', libc().prctl(S.PR_SET_PDEATHSIG, S.SIGTERM, 0, 0, 0))
}

export function getppid(): number {
  return libc().getppid()
}

/** Binary address for an IPv4 or IPv6 literal, or undefined when `text` is not one. */
export function inetPton(family: number, text: string): Uint8Array | undefined {
  const dst = new Uint8Array(16)
  const p = cstr(text)
  return libc().inet_pton(family, p, dst) === 1 ? dst : undefined
}

export function ifNameToIndex(name: string): number {
  const p = cstr(name)
  return libc().if_nametoindex(p)
}

/** The kernel's record of who is at the other end of a connected unix socket (SO_PEERCRED). */
export function peerCred(fd: number): { pid: number; uid: number; gid: number } {
  const buf = new Uint8Array(S.UCRED_SIZE)
  const len = new Uint32Array([S.UCRED_SIZE])
  check('getsockopt', libc().getsockopt(fd, S.SOL_SOCKET, S.SO_PEERCRED, buf, len))
  return S.ucredOf(buf)
}

/** The login name of `uid` from the passwd database (getpwuid(3)); undefined when it has none. */
export function userNameOf(uid: number): string | undefined {
  const pw = libc().getpwuid(uid) as Pointer | null
  return pw ? cstring(readPtr(pw, S.PASSWD_NAME_OFFSET)) : undefined
}
