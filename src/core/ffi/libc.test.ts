import { afterAll, describe, expect, test } from 'bun:test'
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { connectUnix } from '../../backends/unix'
import { SyscallError } from '../errors'
import { connectSocket, isSocket, isUnixSocket } from '../socket'
import * as libc from './libc'
import * as S from './structs'

const dir = mkdtempSync('/tmp/burrow-ffi-')
const listeners: { stop(): void }[] = []
afterAll(() => {
  for (const l of listeners) l.stop()
  rmSync(dir, { recursive: true, force: true })
})

function readAll(fd: number, want: number): string {
  const buf = new Uint8Array(want)
  let got = 0
  while (got < want) {
    const n = libc.tryRead(fd, buf, got)
    if (n <= 0) break
    got += n
  }
  return Buffer.from(buf.subarray(0, got)).toString()
}

describe('libc wrappers', () => {
  test('an fd sent with sendFd arrives with recvFd and still works', () => {
    const [a, b] = libc.socketpair()
    const [c, d] = libc.socketpair()
    try {
      libc.sendFd(a, c)
      const got = libc.recvFd(b)
      expect(got).toBeGreaterThan(2)
      const msg = Buffer.from('through the passed fd')
      expect(libc.tryWrite(got!, msg, 0, msg.length)).toBe(msg.length)
      expect(readAll(d, msg.length)).toBe('through the passed fd')
      libc.close(got!)
    } finally {
      for (const fd of [a, b, c, d]) libc.close(fd)
    }
  })

  test('recvFd returns undefined for plain data', () => {
    const [a, b] = libc.socketpair()
    try {
      const one = new Uint8Array([0])
      libc.trySend(a, one, 0, 1, 0)
      expect(libc.recvFd(b)).toBeUndefined()
    } finally {
      libc.close(a)
      libc.close(b)
    }
  })

  test('errno and strerror describe the failure', () => {
    expect(() => libc.openPath('/nonexistent/burrow')).toThrow(
      new SyscallError('open', 2, 'No such file or directory'),
    )
  })

  // statx(2) through syscall(2) replaces node:fs on the proxy path: node:fs is the reference here
  test.each([
    [
      'socket',
      (): string => {
        const p = join(dir, 'kind.sock')
        listeners.push(Bun.listen({ unix: p, socket: { data() {} } }))
        return p
      },
    ],
    [
      'fifo',
      (): string => {
        const p = join(dir, 'kind.fifo')
        Bun.spawnSync(['mkfifo', p])
        return p
      },
    ],
    ['directory', (): string => dir],
    [
      'file',
      (): string => {
        const p = join(dir, 'kind.file')
        writeFileSync(p, 'x')
        return p
      },
    ],
    ['other', (): string => '/dev/null'],
  ] as const)('statx tells a %s by path and by fd, with node:fs identity', (type, make) => {
    const path = make()
    const byPath = libc.statx(S.AT_FDCWD, path)
    const st = statSync(path, { bigint: true })
    expect(byPath.type).toBe(type)
    expect(byPath.ino).toBe(st.ino)
    if (type === 'socket' || type === 'fifo') return
    const fd = libc.openPath(path)
    try {
      expect(libc.statx(fd)).toEqual(byPath)
    } finally {
      libc.close(fd)
    }
  })

  test('statx follows symlinks and fails like the other wrappers', () => {
    symlinkSync(dir, join(dir, 'link'))
    expect(libc.statx(S.AT_FDCWD, join(dir, 'link')).type).toBe('directory')
    expect(() => libc.statx(S.AT_FDCWD, join(dir, 'none'))).toThrow(
      new SyscallError('statx', 2, 'No such file or directory'),
    )
    expect(() => libc.statx(987654)).toThrow(new SyscallError('statx', 9, 'Bad file descriptor'))
  })

  test('the two ends of one socketpair are different files, one fd twice is the same', () => {
    const [a, b] = libc.socketpair()
    try {
      expect(libc.statx(a)).toEqual(libc.statx(a))
      expect(libc.statx(a).ino).not.toBe(libc.statx(b).ino)
    } finally {
      libc.close(a)
      libc.close(b)
    }
  })

  test('writeAll writes every byte (multi-byte text, more than a pipe holds) and reports a closed reader', async () => {
    const path = join(dir, 'out.txt')
    const fd = openSync(path, 'w')
    const text = `ünïcødé ${'x'.repeat(300_000)}\n`
    libc.writeAll(fd, text)
    closeSync(fd)
    expect(readFileSync(path, 'utf8')).toBe(text)
    const [r, w] = libc.socketpair()
    libc.close(r)
    expect(() => libc.writeAll(w, 'x')).toThrow(new SyscallError('write', 32, 'Broken pipe'))
    libc.close(w)
  })

  test('socket kinds are told apart', () => {
    const [a, b] = libc.socketpair()
    expect(isUnixSocket(a)).toBe(true)
    expect(isSocket(a)).toBe(true)
    libc.close(a)
    libc.close(b)
    const file = openSync('/dev/null', 'r')
    expect(isSocket(file)).toBe(false)
    expect(isUnixSocket(file)).toBe(false)
    closeSync(file)
  })
})

describe('connecting on AF_UNIX (the path vsock shares)', () => {
  async function listen(path: string) {
    const server = Bun.listen({
      unix: path,
      socket: { open: (s) => void s.write('hello\n'), data() {} },
    })
    return server
  }

  test('connectSocket reaches a unix listener and reads from it', async () => {
    const path = join(dir, 's1')
    const server = await listen(path)
    try {
      const fd = connectSocket(S.AF_UNIX, S.sockaddrUn(path), 1000)
      await Bun.sleep(20)
      expect(readAll(fd, 6)).toBe('hello\n')
      libc.close(fd)
    } finally {
      server.stop(true)
    }
  })

  test('paths of 108 bytes or more are reached through /proc/self/fd', async () => {
    let deep = dir
    while (Buffer.byteLength(deep) < 140) deep = join(deep, 'long-directory-name')
    mkdirSync(deep, { recursive: true })
    const path = join(deep, 'socket')
    expect(Buffer.byteLength(path)).toBeGreaterThanOrEqual(108)
    const server = await listen(path)
    try {
      const fd = connectUnix(path, 1000)
      await Bun.sleep(20)
      expect(readAll(fd, 6)).toBe('hello\n')
      libc.close(fd)
    } finally {
      server.stop(true)
    }
  })

  test('a missing socket fails with the path and a hint', () => {
    expect(() => connectUnix(join(dir, 'missing'))).toThrow(
      `Failed to connect to unix socket ${join(dir, 'missing')}: No such file or directory (is anything listening there?)`,
    )
  })
})
