/**
 * From an authenticated login to a running instance and a resolved instance user: the endpoint
 * for the login's remote, the instance (started when stopped), and the user's passwd entry and
 * groups as the instance itself sees them. Each failure is one line meant for the SSH client.
 */
import { BurrowError } from '../../core/errors'
import { logger } from '../../core/log'
import type { EndpointOptions } from '../../incus'
import { IncusClient, IncusError, remoteEndpoint, run } from '../../incus'
import { userEndpoint } from '../../incus/endpoint'
import type { Account } from '../auth/accounts'
import type { Login } from '../auth/login'
import type { IncusAccess } from '../policy'
import { mayReachInstance, mayUseRemote } from '../policy'

/** an account inside the instance; gids as `id -G` prints them there, primary first */
export interface InstanceUser extends Account {
  /** a tool in the instance that starts a process as the user with all its groups */
  switcher?: Switcher
}

/**
 * util-linux setpriv (`--reuid/--regid/--groups`), or busybox su (root needs no password, and
 * it calls initgroups). busybox's own setpriv only handles capabilities and no_new_privs.
 */
export interface Switcher {
  kind: 'setpriv' | 'busybox-su'
  path: string
}

/** One line for the SSH client's stderr, then exit status 1. */
export class TargetError extends BurrowError {
  override name = 'TargetError'
}

const USER_TTL_MS = 60_000

// Runs as root inside the instance; $1 is a validated user name. getent sees NSS sources,
// busybox images have only /etc/passwd. The last line names a Switcher, tried for what it can
// do rather than by name: busybox also has a `setpriv` applet, without --reuid.
const LOOKUP = [
  'u=$1',
  'if command -v getent >/dev/null 2>&1; then getent passwd "$u" || exit 2',
  'else awk -F: -v u="$u" \'$1 == u { print; f = 1; exit } END { exit !f }\' /etc/passwd || exit 2; fi',
  'id -G "$u" 2>/dev/null || echo',
  // busybox ash's `command -v` names its applets without a path
  'path() { p=$(command -v "$1") && case $p in /*) ;; *) p=$(which "$1" 2>/dev/null) ;; esac; }',
  'if path setpriv && "$p" --reuid=0 --regid=0 --keep-groups true 2>/dev/null; then echo "setpriv $p"',
  'elif path su && case "$("$p" --help 2>&1)" in *BusyBox*) true;; *) false;; esac; then echo "busybox-su $p"',
  'else echo; fi',
].join('\n')

/** the server's own access: root's, for housekeeping and for --inauth key lookups */
const SERVER: IncusAccess = {
  kind: 'admin',
  root: true,
  account: { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh', gids: [0] },
}

/**
 * Instances as one Incus identity sees them (policy.ts incusAccess): `as(access)` gives the view
 * of one connection; clients and user lookups are cached per identity, shared by the views.
 */
export class Instances {
  readonly #clients: Map<string, IncusClient>
  readonly #users: Map<string, { at: number; user: InstanceUser }>

  constructor(
    readonly endpointOptions: EndpointOptions,
    /** -r/--remote: used when the login names no remote (`local:` still means the default) */
    readonly defaultRemote = '',
    readonly access: IncusAccess = SERVER,
    shared?: Instances,
  ) {
    this.#clients = shared ? shared.#clients : new Map()
    this.#users = shared ? shared.#users : new Map()
  }

  /** The same instances as `access` reaches them. */
  as(access: IncusAccess): Instances {
    return new Instances(this.endpointOptions, this.defaultRemote, access, this)
  }

  /** which certificate or socket this view's requests carry, for the caches */
  get #who(): string {
    return this.access.kind === 'user' ? `cert:${this.access.account.uid}` : 'admin'
  }

  client(remote: string): IncusClient {
    remote ||= this.defaultRemote
    const refused = mayUseRemote(this.access, remote)
    if (refused) throw new TargetError(`Failed to use Incus: ${refused}`)
    if (this.access.kind === 'none')
      throw new TargetError(`Failed to use Incus: ${this.access.reason}`)
    const key = `${this.#who}\0${remote}`
    let c = this.#clients.get(key)
    if (!c) {
      try {
        const a = this.access
        c = new IncusClient(
          a.kind === 'user'
            ? userEndpoint(a.account.uid, a.account.name, this.endpointOptions)
            : remoteEndpoint(remote, this.endpointOptions),
        )
      } catch (err) {
        throw new TargetError((err as Error).message)
      }
      this.#clients.set(key, c)
    }
    return c
  }

  /** Throws one line when this identity may not use that instance at all (policy.ts). */
  checkReach(remote: string, instance: string, project: string): void {
    const refused = mayReachInstance(this.access, remote, instance, project)
    if (refused) throw new TargetError(`Failed to use instance ${instance}: ${refused}`)
  }

  /** The instance running (starting it if it is stopped) and the login's instance user. */
  async prepare(
    t: Login,
    notice: (line: string) => void = () => {},
  ): Promise<{ client: IncusClient; user: InstanceUser }> {
    this.checkReach(t.remote, t.instance, t.project)
    const client = this.client(t.remote)
    const where = `${t.remote ? `${t.remote}:` : ''}${t.instance}${t.project === 'default' ? '' : ` in project ${t.project}`}`
    let info: Awaited<ReturnType<typeof client.instance>>
    try {
      info = await client.instance(t.instance, t.project)
    } catch (err) {
      if (err instanceof IncusError && err.code === 404) {
        throw new TargetError(
          /Project not found/i.test(err.message)
            ? `Failed to find project '${t.project}': no such project`
            : `Failed to find instance ${where}: no such instance`,
        )
      }
      throw err
    }
    if (info.status_code !== 103) {
      if (info.status !== 'Stopped')
        throw new TargetError(`Failed to use instance ${where}: it is ${info.status.toLowerCase()}`)
      notice(`Starting instance ${where}`)
      await client.start(t.instance, t.project)
    }
    return { client, user: await this.user(client, t) }
  }

  async user(client: IncusClient, t: Login): Promise<InstanceUser> {
    const key = `${this.#who}\0${t.remote}\0${t.project}\0${t.instanceUser}\0${t.instance}`
    const hit = this.#users.get(key)
    if (hit && Date.now() - hit.at < USER_TTL_MS) return hit.user
    const res = await run(
      client,
      t.instance,
      t.project,
      ['/bin/sh', '-c', LOOKUP, 'sh', t.instanceUser],
      { limit: 64 << 10 },
    )
    if (res.code === 2)
      throw new TargetError(
        `Failed to find user '${t.instanceUser}' in instance ${t.instance}: no such user`,
      )
    if (res.code !== 0) {
      throw new TargetError(
        `Failed to look up user '${t.instanceUser}' in instance ${t.instance}: ${res.stderr.trim() || `exit status ${res.code}`}`,
      )
    }
    const [pw = '', groups = '', tool = ''] = res.stdout.split('\n')
    const f = pw.split(':')
    if (f.length < 7)
      throw new TargetError(
        `Failed to look up user '${t.instanceUser}' in instance ${t.instance}: odd passwd entry`,
      )
    const user: InstanceUser = {
      name: f[0]!,
      uid: Number(f[2]),
      gid: Number(f[3]),
      home: f[5] || '/',
      shell: f[6] || '/bin/sh',
      gids: groups.trim() ? groups.trim().split(/\s+/).map(Number) : [Number(f[3])],
      switcher: parseSwitcher(tool),
    }
    logger.debug(`instance user ${t.instanceUser}@${t.instance}: ${JSON.stringify(user)}`)
    this.#users.set(key, { at: Date.now(), user })
    return user
  }
}

function parseSwitcher(line: string): Switcher | undefined {
  const m = /^(setpriv|busybox-su) (\/\S+)$/.exec(line.trim())
  return m ? { kind: m[1] as Switcher['kind'], path: m[2]! } : undefined
}
