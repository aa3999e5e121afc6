/** A connected byte stream, what every address form opens into. */
import * as libc from './ffi/libc'

export interface OpenOptions {
  /** give up connecting (and any handshake) after this long; undefined waits as long as the kernel does */
  timeoutMs?: number
}

/** A connected byte stream. Socket-backed streams expose their fd, so proxy can hand it to ssh. */
export interface Stream {
  readonly fd: number
  /** may be async when closing also removes something the stream needed (an Incus device) */
  close(): void | Promise<void>
  /**
   * The stream depends on state that this process must remove when it ends (an Incus proxy
   * device): relay instead of handing the fd to ssh and exiting.
   */
  readonly relayOnly?: boolean
}

export class FdStream implements Stream {
  constructor(readonly fd: number) {}
  close(): void {
    libc.close(this.fd)
  }
}
