/**
 * The pump: relays stdin→socket and socket→stdout until both directions have ended, with
 * half-close (EOF one way shuts down that way only), like `nc -N` or `socat`. It runs a plain
 * poll loop on libc (the proxy has nothing else to do, so blocking the JS thread costs nothing)
 * and moves bytes with splice(2) whenever one side is a pipe — which is what ssh gives a
 * ProxyCommand — so data never enters user space. Other pairs fall back to read/write.
 */
import * as libc from './ffi/libc'
import * as S from './ffi/structs'
import { isSocket } from './socket'

type EndKind = 'pipe' | 'socket' | 'other'

const CHUNK = 1 << 20

function kindOf(fd: number): EndKind {
  if (isSocket(fd)) return 'socket'
  return libc.statx(fd).type === 'fifo' ? 'pipe' : 'other'
}

class Direction {
  open = true
  private splice: boolean
  /** splice said EAGAIN although the input was readable: wait for the output instead */
  private outFull = false
  private buf: Uint8Array | undefined
  private start = 0
  private end = 0

  constructor(
    readonly from: number,
    private readonly fromKind: EndKind,
    readonly to: number,
    private readonly toKind: EndKind,
  ) {
    this.splice = fromKind === 'pipe' || toKind === 'pipe'
  }

  /** The fds to wait on (fd, events) before step() can make progress. */
  waits(): [number, number][] {
    if (this.splice) return this.outFull ? [[this.to, S.POLLOUT]] : [[this.from, S.POLLIN]]
    return this.start < this.end ? [[this.to, S.POLLOUT]] : [[this.from, S.POLLIN]]
  }

  /** Bytes moved (> 0), 0 at end of input, or -errno (-EAGAIN: nothing to do yet). */
  step(): number {
    if (this.splice) {
      const n = libc.trySplice(this.from, this.to, CHUNK)
      // splice cannot say which side was not ready: after waiting on one, blame the other
      if (n === -S.errno.EAGAIN) this.outFull = !this.outFull
      else if (n > 0) this.outFull = false
      if (n !== -S.errno.EINVAL) return n
      this.splice = false // a pair the kernel cannot splice (e.g. some ttys): copy instead
    }
    if (this.start === this.end) {
      this.buf ??= new Uint8Array(256 * 1024)
      const n =
        this.fromKind === 'socket'
          ? libc.tryRecv(this.from, this.buf, S.MSG_DONTWAIT)
          : libc.tryRead(this.from, this.buf)
      if (n <= 0) return n
      this.start = 0
      this.end = n
    }
    const w =
      this.toKind === 'socket'
        ? libc.trySend(this.to, this.buf!, this.start, this.end, S.MSG_DONTWAIT)
        : libc.tryWrite(this.to, this.buf!, this.start, this.end)
    if (w === -S.errno.EAGAIN) return 1
    if (w < 0) return w
    this.start += w
    return w
  }

  /** Passes the EOF on: shutdown(SHUT_WR) for sockets (half-close), close for pipes. */
  finish(): void {
    this.open = false
    if (this.toKind === 'socket') libc.shutdown(this.to, S.SHUT_WR)
    else libc.close(this.to)
  }
}

export interface RelayOptions {
  /** end after this long without a byte moving either way (nc's -w) */
  idleMs?: number
  stdin?: number
  stdout?: number
}

export type RelayEnd = 'closed' | 'idle' | 'broken'

/** Relays between stdin/stdout and the connected socket `sock` until the session ends. */
export function relay(sock: number, opts: RelayOptions = {}): RelayEnd {
  const stdin = opts.stdin ?? 0
  const stdout = opts.stdout ?? 1
  libc.setNonBlocking(sock)
  const up = new Direction(stdin, kindOf(stdin), sock, 'socket')
  const down = new Direction(sock, 'socket', stdout, kindOf(stdout))
  const dirs = [up, down]
  const fds = new S.PollFds(4)
  let last = Date.now()
  while (up.open || down.open) {
    const slots: [Direction | undefined, number][] = []
    if (down.open) {
      // events 0 still reports POLLERR: the reader of stdout (ssh) went away
      fds.set(0, stdout, 0)
      slots.push([undefined, stdout])
    }
    for (const d of dirs) {
      if (!d.open) continue
      for (const [fd, ev] of d.waits()) {
        fds.set(slots.length, fd, ev)
        slots.push([d, fd])
      }
    }
    let timeout = -1
    if (opts.idleMs !== undefined) {
      timeout = opts.idleMs - (Date.now() - last)
      if (timeout <= 0) return 'idle'
    }
    if (libc.poll(fds, slots.length, timeout) === 0) continue
    if (down.open && fds.revents(0) & S.POLLERR) return 'broken'
    for (const d of dirs) {
      if (!d.open) continue
      let ready = false
      for (let i = 0; i < slots.length; i++)
        if (slots[i]![0] === d && fds.revents(i) !== 0) ready = true
      if (!ready) continue
      const n = d.step()
      if (n > 0) last = Date.now()
      else if (n === 0) d.finish()
      else if (n !== -S.errno.EAGAIN) {
        if (d === down) return 'broken'
        d.open = false // the server stopped reading; keep delivering what it still sends
      }
    }
  }
  return 'closed'
}
