/**
 * Opening `incus/NAME`: an Incus proxy device in the instance, connected through its host-side
 * unix socket. Its own entrypoint of the compiled binary (scripts/compile.ts), loaded by path from
 * backend.ts when an incus address is opened.
 */
import type { AddressOf } from '../../core/address'
import type { OpenOptions, Stream } from '../../core/backend'

export async function openIncus(addr: AddressOf<'incus'>, opts: OpenOptions): Promise<Stream> {
  const [{ IncusClient: Client }, { remoteEndpoint: endpointOf }, fwd, dev, { connectUnix }] =
    await Promise.all([
      import('./client'),
      import('./endpoint'),
      import('./forward'),
      import('./proxy-device'),
      import('../unix'),
    ])
  const client = new Client(endpointOf(addr.remote))
  // devices of `burrow proxy` runs that were killed before they could remove theirs
  await dev.cleanStale(client, { instance: addr.instance, project: addr.project })
  const f = await fwd.openForward(
    client,
    addr.instance,
    addr.project,
    fwd.tcpTarget('127.0.0.1', addr.port),
  )
  let fd: number
  try {
    fd = connectUnix(f.path, opts.timeoutMs)
  } catch (err) {
    await f.remove()
    throw err
  }
  const libc = await import('../../core/ffi/libc')
  return {
    fd,
    // the device must live as long as the stream: stay and relay, then remove it
    relayOnly: true,
    close: async () => {
      libc.close(fd)
      await f.remove()
      dev.removeRuntimeDir()
    },
  }
}
