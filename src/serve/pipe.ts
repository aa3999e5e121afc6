/** Joining two byte streams both ways, with half-close, for forwarded channels. */
import type { Duplex } from 'node:stream'

/** Pipes a ↔ b; EOF is passed on each way; once either closes or fails, both are destroyed. */
export function join(a: Duplex, b: Duplex): void {
  a.pipe(b)
  b.pipe(a)
  const kill = () => {
    a.destroy()
    b.destroy()
  }
  a.once('close', kill)
  b.once('close', kill)
  a.on('error', kill)
  b.on('error', kill)
}
