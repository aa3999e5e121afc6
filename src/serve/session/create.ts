/**
 * Instance creation for `+name` (persistent) and `~name` (ephemeral) logins: create-config.yaml
 * defaults, the login's options on top, then `POST /1.0/instances`, start, and wait until the
 * instance user can be looked up. Only images the endpoint already has are used (by alias), so a
 * typo fails at once instead of waiting on an image server.
 */
import { BurrowError } from '../../core/errors'
import { logger } from '../../core/log'
import type { IncusClient } from '../../incus'
import { IncusError } from '../../incus'
import type { CreateDefaults } from './create-config'
import type { InstanceUser, Instances } from './instance'
import { TargetError } from './instance'
import type { CreateLogin, Login, Target } from '../auth/login'

export interface InstanceBody {
  name: string
  type: 'container' | 'virtual-machine'
  ephemeral: boolean
  source: { type: 'image'; alias: string }
  config: Record<string, string>
  devices: Record<string, Record<string, string>>
}

/** The creation request: defaults, then the login's options (which always win). */
export function instanceBody(
  t: CreateLogin,
  d: CreateDefaults,
  rootDisk?: Record<string, string>,
): InstanceBody {
  const image = t.image ?? d.image
  const what = `create instance ${t.instance}`
  if (!image)
    throw new BurrowError(
      `Failed to ${what}: no image given; add one to the login (+${t.instance}+debian/12) or set defaults.image in create-config.yaml`,
    )
  const vm = t.vm || d.vm
  const memory = t.memoryGiB ?? d.memory
  const cpu = t.cpus ?? d.cpu
  const disk = t.diskGiB ?? d.disk
  const config: Record<string, string> = { ...d.config }
  if (memory > 0) config['limits.memory'] = `${memory}GiB`
  if (cpu > 0) config['limits.cpu'] = String(cpu)
  // privileged and nesting are container settings; Incus refuses them for VMs
  if (!vm && t.priv) config['security.privileged'] = 'true'
  if (!vm && t.nest) {
    config['security.nesting'] = 'true'
    config['security.syscalls.intercept.mknod'] = 'true'
    config['security.syscalls.intercept.setxattr'] = 'true'
  }
  const devices = { ...d.devices }
  if (disk > 0) {
    if (!rootDisk)
      throw new BurrowError(
        `Failed to ${what}: a disk size needs a root disk in the default profile (incus profile device add default root disk path=/ pool=POOL)`,
      )
    devices.root = { ...rootDisk, ...devices.root, size: `${disk}GiB` }
  }
  return {
    name: t.instance,
    type: vm ? 'virtual-machine' : 'container',
    ephemeral: t.ephemeral || d.ephemeral,
    source: { type: 'image', alias: image },
    config,
    devices,
  }
}

/**
 * Creates and starts the instance. `false` when another login created it first (then the caller
 * simply uses it). `notice` shows progress to the SSH user.
 */
export async function createInstance(
  client: IncusClient,
  t: CreateLogin,
  d: CreateDefaults,
  notice: (line: string) => void,
): Promise<boolean> {
  const what = `create instance ${t.instance}`
  const image = t.image ?? d.image ?? ''
  // independent reads: one round trip instead of two when a disk size needs the profile
  const checkImage = async () => {
    if (!image) return
    try {
      await client.get(`/1.0/images/aliases/${encodeURIComponent(image)}`, { project: t.project })
    } catch (err) {
      if (!(err instanceof IncusError) || err.code !== 404) throw err
      throw new BurrowError(
        `Failed to ${what}: image '${image}' is not available on ${client.endpoint.name} (only local images are used; see incus image list)`,
      )
    }
  }
  const readRootDisk = async () => {
    if ((t.diskGiB ?? d.disk) <= 0) return undefined
    const profile = await client.get<{ devices: Record<string, Record<string, string>> }>(
      '/1.0/profiles/default',
      { project: t.project, what: 'read the default profile' },
    )
    return Object.values(profile.devices).find((x) => x.type === 'disk' && x.path === '/')
  }
  const [, rootDisk] = await Promise.all([checkImage(), readRootDisk()])
  const body = instanceBody(t, d, rootDisk)
  const kind = body.ephemeral ? 'ephemeral ' : ''
  notice(
    `Creating ${kind}${body.type === 'container' ? 'container' : 'VM'} ${t.instance} from ${image}`,
  )
  const started = performance.now()
  try {
    const op = await client.startOperation('POST', '/1.0/instances', {
      project: t.project,
      body,
      what,
    })
    await client.wait(op, { what, project: t.project })
  } catch (err) {
    // two logins racing for the same name: the other one created it, use that
    if (err instanceof IncusError && (err.code === 409 || /already exists/i.test(err.message)))
      return false
    throw err
  }
  notice(`Starting ${t.instance}`)
  await client.start(t.instance, t.project)
  logger.info(
    `Created ${kind}instance ${t.instance} (${body.type}, ${image}) in ${(performance.now() - started).toFixed(0)} ms`,
  )
  if (body.ephemeral) notice(`${t.instance} is ephemeral: it is deleted when it stops (poweroff)`)
  return true
}

/** Retries `lookup` until the instance user exists: init and cloud-init may still be creating it. */
export async function waitForUser<T>(lookup: () => Promise<T>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    try {
      return await lookup()
    } catch (err) {
      if (Date.now() + delay > deadline) throw err
      logger.debug(`waiting for the instance user: ${(err as Error).message}`)
      await Bun.sleep(delay)
    }
  }
}

/**
 * The instance running and its user, for any target: a `+name`/`~name` login whose instance is
 * missing creates it when creation is on (`defaults` given), and otherwise says how to turn it on.
 */
export async function prepareOrCreate(
  instances: Instances,
  target: Target,
  login: Login,
  defaults: CreateDefaults | undefined,
  notice: (line: string) => void,
  progress: (line: string) => void,
): Promise<{ client: IncusClient; user: InstanceUser }> {
  if (target.kind === 'create' && target.invalid)
    throw new BurrowError(`Failed to use login for instance ${target.instance}: ${target.invalid}`)
  try {
    return await instances.prepare(login, notice)
  } catch (err) {
    const missing = err instanceof TargetError && /no such instance/.test(err.message)
    if (target.kind !== 'create' || !missing) throw err
  }
  if (!defaults)
    throw new BurrowError(
      `Failed to create instance ${target.instance}: instance creation is off on this server (burrow serve --allow-create)`,
    )
  const client = instances.client(target.remote)
  const created = await createInstance(client, target, defaults, progress)
  if (!created) return instances.prepare(login, notice)
  const user = await waitForUser(() => instances.user(client, login))
  return { client, user }
}
