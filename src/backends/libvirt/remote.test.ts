// Connection against a scripted daemon on a real unix socket (auth paths and faults libvirtd
// cannot be made to show here), then against libvirtd's own test driver.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Connection, parseUUID } from './remote'
import { decodeHeader, encodePacket, LibvirtError, PacketSplitter } from './rpc'
import { XdrReader, type XdrWriter } from './xdr'

type Reply =
  | ((w: XdrWriter) => void)
  | { error: [code: number, domain: number, message: string] }
  | 'hang up'
  | 'garbage'
type Script = Record<number, (args: XdrReader) => Reply>

const error = (code: number, domain: number, message: string) => ({
  error: [code, domain, message] as [number, number, string],
})
const domain = (name: string, id: number) => (w: XdrWriter) =>
  w.string(name).fixedOpaque(new Uint8Array(16).fill(7), 16).i32(id)
const authList =
  (...types: number[]) =>
  (w: XdrWriter) => {
    w.u32(types.length)
    for (const t of types) w.i32(t)
  }
const base: Script = { 66: () => authList(0), 1: () => () => {}, 2: () => () => {} }

let dir: string
let seq = 0
const calls: number[] = []
const listeners: { stop(closeActive?: boolean): void }[] = []

/** A daemon that answers each procedure as `script` says, with an event and a keepalive first. */
function daemon(script: Script): string {
  const path = join(dir, `d${seq++}.sock`)
  const listener = Bun.listen({
    unix: path,
    socket: {
      data(s, chunk) {
        for (const packet of ((s.data as PacketSplitter | undefined) ??= new PacketSplitter()).push(
          chunk,
        )) {
          const r = new XdrReader(packet)
          const h = decodeHeader(r)
          calls.push(h.proc)
          const reply =
            { ...base, ...script }[h.proc]?.(r) ?? error(3, 7, `unexpected procedure ${h.proc}`)
          if (reply === 'hang up') return void s.end()
          if (reply === 'garbage')
            return void s.write(encodePacket({ ...h, type: 1 }, (w) => w.u32(5)))
          s.write(encodePacket({ ...h, type: 2, serial: 0, proc: 107 })) // an event: not a reply
          s.write(
            encodePacket({ prog: 0x6b656570, vers: 1, proc: 1, type: 2, serial: 0, status: 0 }),
          ) // keepalive PING
          const failed = typeof reply === 'object'
          s.write(
            encodePacket({ ...h, type: 1, status: failed ? 1 : 0 }, (w) =>
              failed
                ? w
                    .i32(reply.error[0])
                    .i32(reply.error[1])
                    .optional(reply.error[2], (x, m) => x.string(m))
                : reply(w),
            ),
          )
        }
      },
    },
  })
  listeners.push(listener)
  return path
}

beforeAll(() => {
  dir = mkdtempSync('/tmp/burrow-t-')
})
afterAll(() => {
  for (const l of listeners) l.stop(true)
  rmSync(dir, { recursive: true, force: true })
})

const open = (socket: string) => Connection.openReadOnly(`qemu:///system?socket=${socket}`)

describe('Connection against a scripted daemon', () => {
  test("opens read-only with auth none, and sends the URI without burrow's parameters", async () => {
    let sent: unknown[] = []
    const conn = await open(
      daemon({
        1: (r) => {
          sent = [r.optional((x) => x.string(100)), r.u32()]
          return () => {}
        },
      }),
    )
    await conn.close()
    expect(sent).toEqual(['qemu:///system', 1])
  })

  test('asks the daemon to check polkit when it lists polkit first', async () => {
    calls.length = 0
    const conn = await open(daemon({ 66: () => authList(2, 0), 70: () => (w) => w.i32(1) }))
    await conn.close()
    expect(calls).toEqual([66, 70, 1, 2])
  })

  test('relays a polkit refusal as the daemon words it', async () => {
    const socket = daemon({
      66: () => authList(2),
      70: () => error(45, 60, 'authentication failed: access denied by policy'),
    })
    await expect(open(socket)).rejects.toMatchObject({
      code: 45,
      domain: 60,
      message: 'authentication failed: access denied by policy',
    })
  })

  test('refuses SASL with what to configure', async () => {
    const socket = daemon({ 66: () => authList(1) })
    await expect(open(socket)).rejects.toThrow(
      `the daemon at ${socket} requires SASL authentication, which burrow does not support (set auth_unix_ro = "none" or "polkit" in libvirtd.conf, or in virtqemud.conf for the modular daemons)`,
    )
  })

  test('refuses an unknown auth type', async () => {
    await expect(open(daemon({ 66: () => authList(9) }))).rejects.toThrow(
      'asks for unsupported authentication type 9',
    )
  })

  test('takes a missing domain as undefined and relays other errors', async () => {
    const conn = await open(
      daemon({
        23: (r) => (r.string(100) === 'vm' ? domain('vm', -1) : error(42, 10, 'Domain not found')),
        22: () => error(1, 10, 'internal error: boom'),
        150: () => (w) => w.i32(0),
      }),
    )
    try {
      const vm = await conn.lookupByName('vm')
      expect(vm).toMatchObject({ name: 'vm', id: -1 })
      expect(await conn.isActive(vm!)).toBe(false)
      expect(await conn.lookupByName('other')).toBeUndefined()
      await expect(conn.lookupByID(3)).rejects.toMatchObject({
        call: 'virDomainLookupByID',
        message: 'internal error: boom',
      })
    } finally {
      await conn.close()
    }
  })

  test('says the daemon hung up', async () => {
    const conn = await open(daemon({ 14: () => 'hang up' }))
    await expect(conn.xmlDesc({ name: 'vm', uuid: new Uint8Array(16), id: 1 })).rejects.toThrow(
      'End of file while reading data: Input/output error',
    )
    await conn.close()
  })

  test('says a reply is malformed', async () => {
    const conn = await open(daemon({ 273: () => 'garbage' }))
    await expect(conn.domainNames()).rejects.toThrow(
      'malformed reply from the libvirt daemon: truncated XDR data',
    )
    await conn.close()
  })

  test('names the socket it could not connect to', async () => {
    const err = await open(join(dir, 'none.sock')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LibvirtError)
    expect((err as Error).message).toBe(
      `Failed to connect socket to '${join(dir, 'none.sock')}': No such file or directory`,
    )
  })

  test('refuses a remote URI before connecting', async () => {
    await expect(Connection.openReadOnly('qemu+ssh://h/system')).rejects.toThrow(
      "names a remote daemon on 'h'",
    )
  })
})

describe("Connection against libvirtd's test driver", () => {
  test('looks up, describes and lists the default domain', async () => {
    const conn = await Connection.openReadOnly('test+unix:///default')
    try {
      const byId = (await conn.lookupByID(1))!
      expect(byId.name).toBe('test')
      expect(await conn.lookupByUUID(byId.uuid)).toEqual(byId)
      expect(await conn.isActive(byId)).toBe(true)
      expect(await conn.xmlDesc(byId)).toContain("<domain type='test' id='1'>")
      expect(await conn.domainNames()).toContain('test')
    } finally {
      await conn.close()
    }
  })
})

describe('parseUUID', () => {
  test.each([
    ['6695eb01-f6a4-8304-79aa-97f2502e1930', '6695eb01f6a4830479aa97f2502e1930'],
    ['6695EB01F6A4830479AA97F2502E1930', '6695eb01f6a4830479aa97f2502e1930'],
    [' 6695eb01 f6a4 8304 79aa 97f2502e1930 ', '6695eb01f6a4830479aa97f2502e1930'],
    ['6695eb01-f6a4-8304-79aa-97f2502e193', undefined],
    ['6695eb01-f6a4-8304-79aa-97f2502e1930ff', undefined],
    ['vm', undefined],
  ])('%p is %p', (text, want) => {
    const got = parseUUID(text)
    expect(got && Buffer.from(got).toString('hex')).toBe(want)
  })
})
