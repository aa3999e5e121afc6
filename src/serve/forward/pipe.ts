/** Joining two byte streams both ways, with half-close, for forwarded channels. */
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'

/**
 * Pipes a ↔ b; EOF is passed on each way. When one side closes after a clean EOF (piped on as
 * `end()`), the other is destroyed only once it has delivered what it still holds (an SSH
 * channel waiting for window, a socket with a full send buffer): destroying it at once dropped
 * the tail of `-L` reads. An abrupt close or an error destroys both at once.
 */
export function join(a: Duplex, b: Duplex): void {
  coalesceWrites(a)
  coalesceWrites(b)
  passOn(a, b)
  passOn(b, a)
  const kill = () => {
    a.destroy()
    b.destroy()
  }
  const closed = (from: Duplex, other: Duplex) => () => {
    if (from.readableEnded && !other.destroyed && !other.writableFinished)
      other.once('finish', () => other.destroy())
    else other.destroy()
  }
  a.once('close', closed(a, b))
  b.once('close', closed(b, a))
  a.on('error', kill)
  b.on('error', kill)
}

/**
 * from → to with EOF. ssh2's end() of a server-side channel sends EOF *and* CLOSE, which cuts
 * the other direction short (a forwarded peer that half-closes first would never get its
 * answer), so a channel gets only EOF, after everything written before it has gone out.
 */
function passOn(from: Duplex, to: Duplex): void {
  const eof = (to as Duplex & { eof?: () => void }).eof
  if (typeof eof !== 'function') return void from.pipe(to)
  from.pipe(to, { end: false })
  from.once('end', () => to.write(Buffer.alloc(0), () => eof.call(to)))
}

const corking = new WeakSet<Socket>()

/** writes this big or bigger leave alone: copying them into a batch costs more than a syscall */
const BATCH_BELOW = 4096

/**
 * ssh2 hands an SSH packet to the TCP socket in 2–4 writes (length, ciphertext, GCM tag or MAC)
 * for aes-gcm and the MAC ciphers, and each socket write in Bun is a syscall. Small writes of a
 * turn of the event loop are corked and leave in one writev at setImmediate (Bun's writev copies
 * them into one buffer). A large write (a whole chacha20-poly1305 packet, which ssh2 writes in
 * one piece, or a 32 KiB ciphertext) first flushes what is corked, then goes out by itself, so
 * bulk data is not copied again. Order is kept and end() flushes (plain Writable cork semantics).
 * `channel` is an ssh2 channel (its connection's socket is handled, once); anything else is
 * left alone.
 */
export function coalesceWrites(channel: unknown): void {
  const sock = (channel as { _client?: { _sock?: Socket } } | null)?._client?._sock
  if (!sock || corking.has(sock) || typeof sock.cork !== 'function') return
  corking.add(sock)
  const write = sock.write
  let corked = false
  const uncork = () => {
    if (!corked) return
    corked = false
    sock.uncork()
  }
  sock.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    const chunk = args[0] as { length?: number }
    if ((chunk.length ?? 0) >= BATCH_BELOW) uncork()
    else if (!corked) {
      corked = true
      sock.cork()
      setImmediate(uncork)
    }
    return write.apply(this, args)
  } as Socket['write']
}
