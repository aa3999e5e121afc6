/**
 * The contract every backend passes (hono's common.case.test pattern): each backend's own test
 * calls runBackendContract and adds only its own cases. Not a test file itself.
 */
import { describe, expect, test } from 'bun:test'
import { BurrowError } from '../core/errors'
import type { Backend, Stream } from './backend'
import { type Address, parseAddress } from './registry'

export interface ContractCase<A extends Address> {
  backend: Backend<A>
  /** host, port, and the Address it must parse to */
  valid: [string, string, Address][]
  /** hosts that belong to other forms: this backend must say "not mine" */
  foreign: string[]
  /** host, port and a fragment of the one-line error */
  invalid: [string, string, string][]
  /** a live peer to open, or a reason why none can exist on this machine */
  live:
    | {
        open: () => Promise<{
          address: Address
          check: (s: Stream) => Promise<void>
          stop: () => Promise<void>
        }>
      }
    | { skip: string }
}

export function runBackendContract<A extends Address>(c: ContractCase<A>): void {
  describe(`${c.backend.kind} backend contract`, () => {
    test.each(c.valid)('parses %p %p', (host, port, want) => {
      expect(c.backend.parse(host, port) as Address).toEqual(want)
      expect(parseAddress(host, port)).toEqual(want)
    })

    test.each(c.valid)(
      'formats %p back into something that parses to the same address',
      (host, port) => {
        const addr = c.backend.parse(host, port)!
        const text = c.backend.format(addr)
        const cut = text.lastIndexOf(' ') // paths may contain spaces; the port never does
        expect(parseAddress(text.slice(0, cut), text.slice(cut + 1))).toEqual(addr as Address)
      },
    )

    test.each(c.foreign.map((h) => [h]))('says "not mine" for %p', (host) => {
      expect(c.backend.parse(host, '22')).toBeUndefined()
    })

    test.each(c.invalid)('rejects %p port %p with a one-line error', (host, port, fragment) => {
      let err: unknown
      try {
        parseAddress(host, port)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(BurrowError)
      const msg = (err as Error).message
      expect(msg).toContain(fragment)
      expect(msg).toStartWith('Failed to ')
      expect(msg).not.toContain('\n')
    })

    // a form whose peer cannot exist here (vsock: rule 2) registers no live test; its reason
    // stays in the case, and the shared AF_UNIX connect path is tested in ffi/libc.test.ts
    if (!('skip' in c.live)) {
      const live = c.live
      test('opens a live peer into a stream with a connected fd', async () => {
        const peer = await live.open()
        try {
          const stream = await c.backend.open(peer.address as never, { timeoutMs: 5000 })
          try {
            expect(stream.fd).toBeGreaterThan(2)
            await peer.check(stream)
          } finally {
            stream.close()
          }
        } finally {
          await peer.stop()
        }
      })
    }
  })
}
