/**
 * Streams into and out of an instance without network inside it and without a helper binary:
 * an Incus proxy device. Its forkproxy enters the instance's network (and, for unix paths, mount)
 * namespace for the instance side, so `127.0.0.1:PORT` means the instance's own loopback even
 * when it has no NIC. Shared by `burrow serve` (-L, -R, unix sockets, agent) and
 * `burrow proxy incus/NAME`.
 */
import net from 'node:net'
import { join } from 'node:path'
import { rmSync } from 'node:fs'
import { fail } from '../core/errors'
import type { IncusClient } from './client'
import { runtimeDir } from './owner'
import { addProxyDevice, removeDevices } from './proxy-device'

export interface Forward {
  /** the device's name */
  readonly device: string
  /** host-side unix socket (open side: connect to it; listen side: burrow listens there) */
  readonly path: string
  remove(): Promise<void>
}

/** `tcp:127.0.0.1:22`, `tcp:[::1]:22` for a host name or address and a port */
export function tcpTarget(host: string, port: number): string {
  const h = host === '' || host === 'localhost' ? '127.0.0.1' : host.replace(/^\[(.*)\]$/, '$1')
  if (!/^[0-9A-Za-z.:%_-]+$/.test(h)) fail(`forward to '${host}'`, 'not a host name or address')
  return h.includes(':') ? `tcp:[${h}]:${port}` : `tcp:${h}:${port}`
}

function requireLocal(client: IncusClient, what: string): void {
  // a unix listener of a device lives on the Incus host: only reachable when that is this host
  if (client.endpoint.kind !== 'unix')
    fail(
      what,
      `Incus remote '${client.endpoint.name}' is reached over HTTPS; forwarding needs the Incus host's own unix socket (run burrow there)`,
    )
}

/**
 * A device listening on a host-side unix socket that connects to `connect` inside the instance
 * (`tcp:127.0.0.1:22`, `unix:/run/docker.sock`). Connect to `path` once per stream.
 */
export async function openForward(
  client: IncusClient,
  instance: string,
  project: string,
  connect: string,
  /** the instance user the connection is made as (unix socket permissions apply to it) */
  connectAs?: { uid: number; gid: number },
): Promise<Forward> {
  requireLocal(client, `forward to ${connect} in instance ${instance}`)
  const dir = runtimeDir()
  // the device name is only known once added: listen on a unique path chosen first
  const path = join(
    dir,
    `o${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.sock`,
  )
  const device = await addProxyDevice(client, instance, project, {
    bind: 'host',
    listen: `unix:${path}`,
    connect,
    connectAs,
  })
  return {
    device,
    path,
    remove: async () => {
      await removeDevices(client, instance, project, [device])
      rmSync(path, { force: true })
    },
  }
}

/**
 * A device listening inside the instance on `listen` (`tcp:127.0.0.1:8080`, `unix:/tmp/x.sock`);
 * each connection arrives at `onConnection` on this host.
 */
export async function listenForward(
  client: IncusClient,
  instance: string,
  project: string,
  listen: string,
  owner: { uid?: number; gid?: number; mode?: string },
  onConnection: (sock: net.Socket) => void,
): Promise<Forward> {
  requireLocal(client, `listen on ${listen} in instance ${instance}`)
  const path = join(
    runtimeDir(),
    `l${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.sock`,
  )
  const server = net.createServer({ pauseOnConnect: true }, onConnection)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  let device: string
  try {
    device = await addProxyDevice(client, instance, project, {
      bind: 'instance',
      listen,
      connect: `unix:${path}`,
      ...owner,
    })
  } catch (err) {
    server.close()
    rmSync(path, { force: true })
    throw err
  }
  return {
    device,
    path,
    remove: async () => {
      server.close()
      rmSync(path, { force: true })
      await removeDevices(client, instance, project, [device])
    },
  }
}

/** Connects to a host-side socket of `openForward`. */
export function connectForward(f: Forward): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(f.path)
    s.once('connect', () => {
      s.off('error', reject)
      resolve(s)
    })
    s.once('error', reject)
  })
}
