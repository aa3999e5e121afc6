/**
 * Opening `incus/NAME`: an Incus proxy device in the instance, connected through its host-side
 * unix socket. Its own entrypoint of the compiled binary (scripts/compile.ts), loaded by path from
 * backends/incus (IncusOpener) when an incus address is opened.
 */
import type { IncusOpener } from '../backends/incus'

export const openIncus: IncusOpener['openIncus'] = async (addr, opts) => {
  const [
    { IncusClient: Client },
    { remoteEndpoint: endpointOf },
    fwd,
    dev,
    owner,
    { connectUnix },
  ] = await Promise.all([
    import('./client'),
    import('./endpoint'),
    import('./forward'),
    import('./proxy-device'),
    import('./owner'),
    import('../backends/unix'),
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
  const libc = await import('../core/ffi/libc')
  return {
    fd,
    // the device must live as long as the stream: stay and relay, then remove it
    relayOnly: true,
    close: async () => {
      libc.close(fd)
      await f.remove()
      owner.removeRuntimeDir()
    },
  }
}
