/**
 * `unix/PATH`, `unix%PATH` and `.host` (= unix/run/ssh-unix-local/socket, the socket that
 * systemd-ssh-generator makes sshd listen on). The port is ignored, as ssh passes one anyway.
 */
import { afterPrefix, formatPath, parsePort, socketPath } from '../../core/address'
import type { Backend } from '../../proxy/backend'
import { FdStream } from '../../core/stream'
import { fail, failWith, SyscallError } from '../../core/errors'
import * as libc from '../../core/ffi/libc'
import { AF_UNIX, AT_FDCWD, errno, sockaddrUn, UNIX_PATH_MAX, utf8 } from '../../core/ffi/structs'
import { connectSocket } from '../../core/socket'

export interface UnixAddress {
  kind: 'unix'
  path: string
  port: number
}

export const HOST_ALIAS_PATH = '/run/ssh-unix-local/socket'

const hints = {
  [errno.ENOENT]: 'is anything listening there?',
  [errno.ECONNREFUSED]: 'the socket file exists but nothing accepts on it',
  [errno.EACCES]: 'run as a user who may open it',
  [errno.ETIMEDOUT]: 'the listener is not accepting connections',
}

/**
 * A connected AF_UNIX socket for `path`. sun_path holds 107 bytes; longer paths are opened
 * with O_PATH and reached through /proc/self/fd/N, as systemd's connect_unix_path() does.
 */
export function connectUnix(path: string, timeoutMs?: number): number {
  const what = `connect to unix socket ${path}`
  let pathFd: number | undefined
  try {
    let target = path
    if (utf8(path).byteLength >= UNIX_PATH_MAX) {
      pathFd = libc.openPath(path)
      target = `/proc/self/fd/${pathFd}`
    }
    return connectSocket(AF_UNIX, sockaddrUn(target), timeoutMs)
  } catch (err) {
    // connect(2) says ECONNREFUSED for a regular file or a directory too: only a socket gets the listener hint
    const kind =
      err instanceof SyscallError && err.errno === errno.ECONNREFUSED ? notSocket(path) : undefined
    if (kind)
      fail(
        what,
        `${(err as SyscallError).reason} (${path} is ${kind}, not a socket)`,
        errno.ECONNREFUSED,
      )
    return failWith(what, err, hints)
  } finally {
    if (pathFd !== undefined) libc.close(pathFd)
  }
}

/** What `path` is when it exists and is not a socket: 'a directory', 'a regular file', … */
function notSocket(path: string): string | undefined {
  try {
    const { type } = libc.statx(AT_FDCWD, path)
    if (type === 'socket') return undefined
    return type === 'directory'
      ? 'a directory'
      : type === 'file'
        ? 'a regular file'
        : 'a device or FIFO'
  } catch {
    return undefined
  }
}

export const backend: Backend<UnixAddress> = {
  kind: 'unix',
  prefixes: ['unix'],
  // this host's own sshd: a stable machine, its keys checked (systemd's drop-in checks it too)
  names: [{ name: '.host', hostKeys: 'check' }],
  usage: 'unix/PATH',
  hostKeys: 'throwaway',
  port: 'ignored',
  portSuffix: false,
  parse(host, port) {
    const rest = host === '.host' ? HOST_ALIAS_PATH : afterPrefix(host, 'unix')
    if (rest === undefined) return undefined
    return { kind: 'unix', path: socketPath('unix', rest), port: parsePort(port, 'port', 65535, 0) }
  },
  format: (addr) => `${formatPath('unix', addr.path)} ${addr.port}`,
  async open(addr, opts) {
    return new FdStream(connectUnix(addr.path, opts.timeoutMs))
  },
}
