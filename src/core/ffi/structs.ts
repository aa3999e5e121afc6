/**
 * C struct layouts for the socket calls burrow makes, built with DataView.
 * Offsets are the Linux x86_64/aarch64 ABI (glibc and musl agree once padding is zeroed);
 * see ../shared/reference/proxy.md §8 and the kernel's include/uapi headers.
 */

export const AF_UNIX = 1
export const AF_INET = 2
export const AF_INET6 = 10
export const AF_VSOCK = 40
export const SOCK_STREAM = 1
export const SOCK_NONBLOCK = 0x800
export const SOCK_CLOEXEC = 0x80000
export const SOL_SOCKET = 1
export const SCM_RIGHTS = 1
export const SO_TYPE = 3
export const SO_ERROR = 4
export const SO_RCVTIMEO = 20
export const SO_SNDTIMEO = 21
export const SO_DOMAIN = 39
export const SO_PEERCRED = 17
export const MSG_PEEK = 0x2
export const MSG_DONTWAIT = 0x40
export const MSG_NOSIGNAL = 0x4000
export const MSG_CMSG_CLOEXEC = 0x40000000
export const SHUT_WR = 1
export const O_RDONLY = 0
/** setns(2) nstype for a network namespace */
export const CLONE_NEWNET = 0x40000000
export const O_NONBLOCK = 0x800
export const O_PATH = 0x200000
export const O_CLOEXEC = 0x80000
export const O_DIRECTORY = 0x10000
/** openat2(2): the same number on x86_64 and arm64 */
export const SYS_openat2 = 437
export const RESOLVE_NO_MAGICLINKS = 0x02
/** resolve as if dirfd were / (absolute symlinks and .. stay inside it) */
export const RESOLVE_IN_ROOT = 0x10

/** statx(2): unlike openat2, the number differs between x86_64 and arm64 */
export const SYS_statx = process.arch === 'arm64' ? 291 : 332
export const AT_FDCWD = -100
export const AT_EMPTY_PATH = 0x1000
export const STATX_TYPE = 0x1
export const STATX_INO = 0x100
export const STATX_SIZE = 256

export type FileType = 'socket' | 'fifo' | 'directory' | 'file' | 'other'

/** What burrow needs of a file: its type and identity (device + inode). */
export interface FileId {
  type: FileType
  dev: string
  ino: bigint
}

const S_IFMT = 0o170000
const FILE_TYPES: Record<number, FileType> = {
  0o140000: 'socket',
  0o010000: 'fifo',
  0o040000: 'directory',
  0o100000: 'file',
}

/**
 * struct statx (linux/stat.h, the same on every architecture): u16 stx_mode at 28,
 * u64 stx_ino at 32, u32 stx_dev_major / stx_dev_minor at 136 / 140.
 */
export function fileIdOf(buf: Uint8Array): FileId {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  return {
    type: FILE_TYPES[v.getUint16(28, true) & S_IFMT] ?? 'other',
    ino: v.getBigUint64(32, true),
    dev: `${v.getUint32(136, true)}:${v.getUint32(140, true)}`,
  }
}

/** struct open_how { u64 flags; u64 mode; u64 resolve; } */
export function openHow(flags: number, resolve: number): Uint8Array {
  const how = new Uint8Array(24)
  const v = new DataView(how.buffer)
  v.setBigUint64(0, BigInt(flags), true)
  v.setBigUint64(16, BigInt(resolve), true)
  return how
}
export const F_GETFL = 3
export const F_SETFL = 4
export const POLLIN = 0x1
export const POLLOUT = 0x4
export const POLLERR = 0x8
export const POLLHUP = 0x10
export const POLLNVAL = 0x20
/** the peer shut down its writing side (Linux, _GNU_SOURCE) */
export const POLLRDHUP = 0x2000
export const SPLICE_F_MOVE = 1
export const SPLICE_F_NONBLOCK = 2
export const PR_SET_PDEATHSIG = 1
/** flock(2) */
export const LOCK_EX = 2
export const LOCK_UN = 8
export const SIGTERM = 15
export const VMADDR_CID_ANY = 0xffffffff
export const VMADDR_PORT_ANY = 0xffffffff

export const errno = {
  ENOENT: 2,
  EINTR: 4,
  EAGAIN: 11,
  EACCES: 13,
  EINVAL: 22,
  EPIPE: 32,
  ENAMETOOLONG: 36,
  ENOTSOCK: 88,
  ECONNRESET: 104,
  EISCONN: 106,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EINPROGRESS: 115,
} as const

const encoder = new TextEncoder()

/** UTF-8 bytes of `s`. Not Buffer: its first use costs ~0.4 ms of every `burrow proxy` start. */
export const utf8 = (s: string): Uint8Array => encoder.encode(s)

/** `sun_path` is 108 bytes and needs its NUL terminator. */
export const UNIX_PATH_MAX = 108

/** struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }, addrlen = 2 + strlen + 1 */
export function sockaddrUn(path: string): Uint8Array {
  const bytes = utf8(path)
  if (bytes.length >= UNIX_PATH_MAX)
    throw new RangeError(`unix socket path is ${bytes.length} bytes`)
  const sa = new Uint8Array(2 + bytes.length + 1)
  new DataView(sa.buffer).setUint16(0, AF_UNIX, true)
  sa.set(bytes, 2)
  return sa
}

/**
 * struct sockaddr_vm { sa_family_t svm_family; u16 svm_reserved1; u32 svm_port; u32 svm_cid;
 *                      u8 svm_flags; u8 svm_zero[3]; }  (linux/vm_sockets.h), 16 bytes, host order
 */
export function sockaddrVm(cid: number, port: number): Uint8Array {
  const sa = new Uint8Array(16)
  const v = new DataView(sa.buffer)
  v.setUint16(0, AF_VSOCK, true)
  v.setUint32(4, port, true)
  v.setUint32(8, cid, true)
  return sa
}

/** struct sockaddr_in { u16 family; be16 port; u8 addr[4]; u8 zero[8]; } */
export function sockaddrIn(addr: Uint8Array, port: number): Uint8Array {
  const sa = new Uint8Array(16)
  const v = new DataView(sa.buffer)
  v.setUint16(0, AF_INET, true)
  v.setUint16(2, port, false)
  sa.set(addr.subarray(0, 4), 4)
  return sa
}

/** struct sockaddr_in6 { u16 family; be16 port; u32 flowinfo; u8 addr[16]; u32 scope_id; } */
export function sockaddrIn6(addr: Uint8Array, port: number, scopeId = 0): Uint8Array {
  const sa = new Uint8Array(28)
  const v = new DataView(sa.buffer)
  v.setUint16(0, AF_INET6, true)
  v.setUint16(2, port, false)
  sa.set(addr.subarray(0, 16), 8)
  v.setUint32(24, scopeId, true)
  return sa
}

/** struct iovec { void *iov_base; size_t iov_len; } */
export function iovec(base: number, len: number): Uint8Array {
  const iov = new Uint8Array(16)
  const v = new DataView(iov.buffer)
  v.setBigUint64(0, BigInt(base), true)
  v.setBigUint64(8, BigInt(len), true)
  return iov
}

/** CMSG_LEN(sizeof(int)) and CMSG_SPACE(sizeof(int)): header 16 bytes, data padded to 8. */
export const CMSG_LEN_INT = 20
export const CMSG_SPACE_INT = 24

/** One cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } carrying one SCM_RIGHTS fd. */
export function cmsgRights(fd: number): Uint8Array {
  const c = new Uint8Array(CMSG_SPACE_INT)
  const v = new DataView(c.buffer)
  v.setBigUint64(0, BigInt(CMSG_LEN_INT), true)
  v.setInt32(8, SOL_SOCKET, true)
  v.setInt32(12, SCM_RIGHTS, true)
  v.setInt32(16, fd, true)
  return c
}

/** The fd in a received control buffer, or undefined when it carries no SCM_RIGHTS. */
export function cmsgRightsFd(c: Uint8Array, controllen: number): number | undefined {
  if (controllen < CMSG_LEN_INT) return undefined
  const v = new DataView(c.buffer, c.byteOffset, c.byteLength)
  if (v.getInt32(8, true) !== SOL_SOCKET || v.getInt32(12, true) !== SCM_RIGHTS) return undefined
  return v.getInt32(16, true)
}

/**
 * struct msghdr { void *msg_name; socklen_t msg_namelen; struct iovec *msg_iov; size_t msg_iovlen;
 *                 void *msg_control; size_t msg_controllen; int msg_flags; }, 56 bytes.
 * musl has 32-bit iovlen/controllen plus zero padding, so 64-bit little-endian writes suit both.
 */
export function msghdr(iov: number, control: number, controllen: number): Uint8Array {
  const m = new Uint8Array(56)
  const v = new DataView(m.buffer)
  v.setBigUint64(16, BigInt(iov), true)
  v.setBigUint64(24, 1n, true)
  v.setBigUint64(32, BigInt(control), true)
  v.setBigUint64(40, BigInt(controllen), true)
  return m
}

export const MSGHDR_CONTROLLEN_OFFSET = 40

/** struct pollfd { int fd; short events; short revents; }, 8 bytes each */
export class PollFds {
  readonly bytes: Uint8Array
  private readonly view: DataView
  constructor(readonly capacity: number) {
    this.bytes = new Uint8Array(capacity * 8)
    this.view = new DataView(this.bytes.buffer)
  }
  set(i: number, fd: number, events: number): void {
    this.view.setInt32(i * 8, fd, true)
    this.view.setInt16(i * 8 + 4, events, true)
    this.view.setInt16(i * 8 + 6, 0, true)
  }
  revents(i: number): number {
    return this.view.getInt16(i * 8 + 6, true)
  }
}

/** struct timeval { time_t tv_sec; suseconds_t tv_usec; } */
export function timeval(ms: number): Uint8Array {
  const t = new Uint8Array(16)
  const v = new DataView(t.buffer)
  v.setBigInt64(0, BigInt(Math.floor(ms / 1000)), true)
  v.setBigInt64(8, BigInt((ms % 1000) * 1000), true)
  return t
}

/** struct ucred { pid_t pid; uid_t uid; gid_t gid; } (socket(7) SO_PEERCRED) */
export const UCRED_SIZE = 12
export function ucredOf(buf: Uint8Array): { pid: number; uid: number; gid: number } {
  const v = new DataView(buf.buffer, buf.byteOffset, UCRED_SIZE)
  return { pid: v.getInt32(0, true), uid: v.getUint32(4, true), gid: v.getUint32(8, true) }
}

/** struct passwd { char *pw_name; … }: pw_name is the first field (pwd.h) */
export const PASSWD_NAME_OFFSET = 0
