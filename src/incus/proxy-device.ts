/**
 * Incus `proxy` devices that burrow adds for forwarding, and their cleanup. Every device burrow
 * adds is named `burrow-<pid>-<start>-<n>`: the owning process (pid plus its start time, so a
 * reused pid does not count as alive). Host-side sockets live in `<runtime>/<pid>-<start>/`.
 * Whoever starts next (`burrow serve`, `burrow proxy incus/…`) removes what dead owners left.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { logger } from '../core/log'
import type { IncusClient } from './client'
import { IncusError } from './client'
import { run } from './exec'
import { OWNER, ownerOf, runtimeRoot } from './owner'

export const DEVICE_PREFIX = 'burrow-'

/** proxy device keys (https://linuxcontainers.org/incus/docs/main/reference/devices_proxy/) */
export interface ProxySpec {
  bind: 'host' | 'instance'
  listen: string
  connect: string
  uid?: number
  gid?: number
  mode?: string
  /** who the connect side runs as (security.uid/gid): forkproxy drops to them before it connects */
  connectAs?: { uid: number; gid: number }
}

let counter = 0

/** The next device name of this process. */
export function deviceName(): string {
  return `${DEVICE_PREFIX}${OWNER}-${++counter}`
}

/** `burrow-<pid>-<start>-<n>` whose process is gone (or is another process now) */
export function isStale(device: string): boolean {
  const m = /^burrow-(\d+)-([0-9a-z]+)-\d+$/.exec(device)
  return !!m && ownerOf(Number(m[1])) !== `${m[1]}-${m[2]}`
}

const locks = new Map<string, Promise<unknown>>()

/** One device change at a time per instance from this process; If-Match covers the others. */
function serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve()
  const next = prev.then(fn, fn)
  locks.set(
    key,
    next.catch(() => {}),
  )
  return next
}

interface InstanceWithDevices {
  devices: Record<string, Record<string, string>>
  [k: string]: unknown
}

/** GET with its ETag, change, write back with If-Match; retried when someone else wrote first. */
async function update(
  client: IncusClient,
  instance: string,
  project: string,
  method: 'PUT' | 'PATCH',
  change: (cur: InstanceWithDevices) => unknown,
  what: string,
): Promise<void> {
  const path = `/1.0/instances/${encodeURIComponent(instance)}`
  await serial(`${project}/${instance}`, async () => {
    for (let attempt = 0; ; attempt++) {
      const res = await client.raw('GET', path, { project, what })
      const etag = res.headers.get('etag') ?? ''
      const env = (await res.json().catch(() => ({}))) as {
        metadata?: InstanceWithDevices
        error?: string
      }
      const cur = env.metadata
      if (!res.ok || !cur)
        throw new IncusError(`Failed to ${what}: ${env.error || `HTTP ${res.status}`}`, res.status)
      const body = change(cur)
      if (body === undefined) return
      try {
        const env = await client.request(method, path, {
          project,
          body,
          what,
          headers: etag ? { 'If-Match': etag } : {},
        })
        if (env.type === 'async')
          await client.wait(env.operation.split('/').pop()!, { what, project })
        return
      } catch (err) {
        if (!(err instanceof IncusError) || err.code !== 412 || attempt >= 20) throw err
        logger.debug(`${what}: instance changed meanwhile, retrying`)
      }
    }
  })
}

/** Adds a proxy device; resolves once Incus has started its forkproxy. */
export async function addProxyDevice(
  client: IncusClient,
  instance: string,
  project: string,
  spec: ProxySpec,
): Promise<string> {
  const name = deviceName()
  const dev: Record<string, string> = {
    type: 'proxy',
    bind: spec.bind,
    listen: spec.listen,
    connect: spec.connect,
  }
  if (spec.uid !== undefined) dev.uid = String(spec.uid)
  if (spec.gid !== undefined) dev.gid = String(spec.gid)
  if (spec.mode) dev.mode = spec.mode
  if (spec.connectAs) {
    dev['security.uid'] = String(spec.connectAs.uid)
    dev['security.gid'] = String(spec.connectAs.gid)
  }
  // PATCH merges `devices` key by key
  await update(
    client,
    instance,
    project,
    'PATCH',
    () => ({ devices: { [name]: dev } }),
    `add a forwarding device to instance ${instance}`,
  )
  logger.debug(
    `device ${name} on ${instance}: ${spec.listen} → ${spec.connect} (bind ${spec.bind})`,
  )
  return name
}

/** Removes devices (missing ones are fine), and the socket files their listeners leave behind. */
export async function removeDevices(
  client: IncusClient,
  instance: string,
  project: string,
  names: string[],
): Promise<void> {
  let inside: string[] = []
  await update(
    client,
    instance,
    project,
    'PUT',
    (cur) => {
      const gone = names.filter((n) => cur.devices?.[n])
      if (gone.length === 0) return undefined
      inside = gone.flatMap((n) => leftoverPath(cur.devices[n]!, 'instance'))
      for (const n of gone) {
        for (const p of leftoverPath(cur.devices[n]!, 'host')) rmSync(p, { force: true })
        delete cur.devices[n]
      }
      return cur
    },
    `remove forwarding devices from instance ${instance}`,
  )
  // forkproxy does not unlink a unix listener it created inside the instance
  if (inside.length) {
    await run(client, instance, project, ['rm', '-f', '--', ...inside]).catch((err) =>
      logger.debug(`rm ${inside.join(' ')} in ${instance}: ${(err as Error).message}`),
    )
  }
}

/** The unix socket a device listens on, when it listens on `side` */
function leftoverPath(dev: Record<string, string>, side: 'host' | 'instance'): string[] {
  const listen = dev.listen ?? ''
  return (dev.bind ?? 'host') === side && listen.startsWith('unix:') ? [listen.slice(5)] : []
}

/**
 * Removes every device and runtime directory of owners that are gone: on all instances of all
 * projects, or on one instance. Failures are logged, never fatal (the next start tries again).
 */
export async function cleanStale(
  client: IncusClient,
  only?: { instance: string; project: string },
): Promise<void> {
  try {
    const list = only
      ? [
          {
            name: only.instance,
            project: only.project,
            ...(await client.get<InstanceWithDevices>(
              `/1.0/instances/${encodeURIComponent(only.instance)}`,
              { project: only.project },
            )),
          },
        ]
      : await client.get<(InstanceWithDevices & { name: string; project: string })[]>(
          '/1.0/instances',
          {
            query: { recursion: '1', 'all-projects': 'true' },
          },
        )
    for (const inst of list) {
      const stale = Object.keys(inst.devices ?? {}).filter(
        (n) => n.startsWith(DEVICE_PREFIX) && isStale(n),
      )
      if (stale.length === 0) continue
      ;(only ? logger.debug : logger.info)(
        `Removing ${stale.length} leftover forwarding device(s) from ${inst.name}: ${stale.join(', ')}`,
      )
      await removeDevices(client, inst.name, inst.project || 'default', stale)
    }
  } catch (err) {
    // a missing instance is reported by whatever the caller does next
    if (only && err instanceof IncusError && err.code === 404) return
    logger.warn(`Failed to clean leftover forwarding devices: ${(err as Error).message}`)
  }
  const root = runtimeRoot()
  if (!existsSync(root)) return
  for (const d of readdirSync(root)) {
    if (/^\d+-[0-9a-z]+$/.test(d) && isStale(`${DEVICE_PREFIX}${d}-0`))
      rmSync(join(root, d), { recursive: true, force: true })
  }
}
