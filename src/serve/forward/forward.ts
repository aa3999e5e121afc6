/**
 * Port and socket forwarding of one SSH connection, through Incus proxy devices (see
 * incus/forward.ts): `-L`/`-D` (direct-tcpip), `-L` to a socket path
 * (direct-streamlocal), `-R` (tcpip-forward) and `-R` to a socket path (streamlocal-forward),
 * and the agent socket. Every device is removed when the connection ends.
 */
import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import type { Connection, ServerChannel } from 'ssh2'
import { logger } from '../../core/log'
import type { IncusClient } from '../../incus'
import { run } from '../../incus'
import type { Forward } from '../../incus/forward'
import { connectForward, listenForward, openForward, tcpTarget } from '../../incus/forward'
import {
  ConnectFailed,
  connectInside,
  insidePid,
  insideTarget,
  listenInside as listenInNetns,
} from '../../incus/netns'
import { agentSocket } from './agent'
import type { Identity } from '../auth/auth'
import type { InstanceUser, Instances } from '../session/instance'
import { jumpAddress, relayJump } from './jump'
import type { Login } from '../auth/login'
import { join } from './pipe'
import type { IncusAccess } from '../policy'
import {
  connectAs,
  insideSocketAllowed,
  jumpAs,
  listenInside,
  listenRefusal,
  openRefusal,
  privilegedPortRefusal,
  projectFor,
  socketRefusal,
} from '../policy'
import { asLogin } from '../auth/login'

type Accept = () => ServerChannel
type Reply = ((port?: number) => void) | undefined

export class Forwarding {
  /** -L devices by "project/instance connect", shared by every channel to the same place */
  readonly #open = new Map<string, Promise<Forward>>()
  /** -R and agent listeners by "tcp:ADDR:PORT" / "unix:PATH" */
  readonly #listen = new Map<string, Promise<Forward>>()
  #ready?: Promise<{ client: IncusClient; user: InstanceUser }>
  #closed = false

  constructor(
    readonly conn: Connection,
    readonly id: Identity,
    /** the instances as this connection's Incus identity reaches them */
    readonly instances: Instances,
    readonly access: IncusAccess,
  ) {
    conn.on(
      'tcpip',
      (accept, reject, info) =>
        void this.#direct(accept, reject, info.destIP, info.destPort).catch((err) =>
          this.#refuse(reject, `forward to ${info.destIP}:${info.destPort}`, err),
        ),
    )
    conn.on(
      'openssh.streamlocal',
      (accept, reject, info) =>
        void this.#directUnix(accept, info.socketPath).catch((err) =>
          this.#refuse(reject, `forward to ${info.socketPath}`, err),
        ),
    )
    conn.on(
      'request',
      (accept, reject, name, info) =>
        void this.#request(accept, name, info as never).catch((err) =>
          this.#refuse(reject, name, err),
        ),
    )
    conn.once('close', () => void this.close())
  }

  #refuse(reject: (() => void) | undefined, what: string, err: unknown): void {
    logger.info(`${what} for ${this.id.login}: ${(err as Error).message}`)
    // CONNECT_FAILED with strerror's text, as sshd: "open failed: connect failed: Connection
    // refused" (the description argument is ours: scripts/ssh2-patches.ts)
    ;(reject as ((description?: string) => void) | undefined)?.(
      err instanceof ConnectFailed ? err.reason : undefined,
    )
  }

  /** The login's instance (running) and its user, once per connection. */
  #target(): Promise<{ client: IncusClient; user: InstanceUser; t: Login }> {
    const t = asLogin(this.id.target)
    this.#ready ??= this.instances.prepare(t)
    return this.#ready.then((r) => ({ ...r, t }))
  }

  async #direct(
    accept: Accept,
    reject: (() => void) | undefined,
    host: string,
    port: number,
  ): Promise<void> {
    const keyRefused = openRefusal(this.id, host, port)
    if (keyRefused) return this.#refuse(reject, `forward to ${host}:${port}`, new Error(keyRefused))
    const addr = jumpAddress(host, port)
    if (addr && addr.kind === 'incus') {
      const project = projectFor(this.access, addr.project)
      this.instances.checkReach(addr.remote, addr.instance, project)
      const client = this.instances.client(addr.remote)
      return this.#through(
        accept,
        client,
        addr.instance,
        project,
        tcpTarget('127.0.0.1', addr.port),
      )
    }
    if (addr) {
      const who = jumpAs(this.access)
      if ('refused' in who) return this.#refuse(reject, `jump to ${host}`, new Error(who.refused))
      logger.info(`${this.id.login} jumps to ${host} port ${port} as host user ${who.account.name}`)
      return relayJump(accept(), host, port, who.account)
    }
    const { client, user, t } = await this.#target()
    await this.#through(
      accept,
      client,
      t.instance,
      t.project,
      tcpTarget(host, port),
      connectAs(user),
    )
  }

  async #directUnix(accept: Accept, path: string): Promise<void> {
    const keyRefused = socketRefusal(this.id)
    if (keyRefused) throw new Error(keyRefused)
    const { client, user, t } = await this.#target()
    // the device connects as the instance user: the instance's kernel decides (policy.ts connectAs)
    await this.#through(accept, client, t.instance, t.project, `unix:${path}`, connectAs(user))
  }

  async #through(
    accept: Accept,
    client: IncusClient,
    instance: string,
    project: string,
    connect: string,
    as?: { uid: number; gid: number },
  ): Promise<void> {
    // a socket made inside the container: half-close works and a refusal is known before the
    // channel is accepted; otherwise (VM, remote, not root, or a socket path that must be
    // opened with the instance user's rights: policy.ts insideSocketAllowed) a proxy device
    const inside = insideTarget(connect)
    const pid =
      inside && insideSocketAllowed(inside, as) && (await insidePid(client, instance, project))
    if (inside && pid) {
      const sock = await connectInside(pid, inside)
      if (this.#closed) return void sock.destroy()
      return join(sock, accept())
    }
    const key = `${project}/${instance} ${connect} ${as?.uid ?? 0}`
    let f = this.#open.get(key)
    if (!f) {
      f = openForward(client, instance, project, connect, as)
      this.#open.set(key, f)
      f.catch(() => this.#open.delete(key))
    }
    const fwd = await f
    // the connection ended while the device was being added: close() did not see it
    if (this.#closed) return void (await fwd.remove())
    const sock = await connectForward(fwd)
    join(sock, accept())
  }

  async #request(
    accept: Reply,
    name: string,
    info: { bindAddr?: string; bindPort?: number; socketPath?: string },
  ): Promise<void> {
    if (name === 'tcpip-forward' || name === 'cancel-tcpip-forward') {
      const bind =
        !info.bindAddr || info.bindAddr === 'localhost'
          ? '127.0.0.1'
          : info.bindAddr === '*'
            ? '0.0.0.0'
            : info.bindAddr
      if (name === 'cancel-tcpip-forward')
        return this.#cancel(`tcp:${bind}:${info.bindPort}`, accept)
      const keyRefused = listenRefusal(this.id, info.bindAddr ?? '', info.bindPort ?? 0)
      if (keyRefused) throw new Error(keyRefused)
      const { client, user, t } = await this.#target()
      const portRefused = privilegedPortRefusal(user, info.bindPort ?? 0)
      if (portRefused) throw new Error(portRefused)
      const inside = await this.#listenInside(
        client,
        t,
        bind,
        info.bindPort ?? 0,
        info.bindAddr ?? '',
      )
      if (inside !== undefined) return accept?.(inside)
      // forkproxy cannot report a port it chose: pick one in the ephemeral range ourselves
      const port = info.bindPort || 32768 + Math.floor(Math.random() * 28000)
      await this.#listenOn(client, t, `tcp:${bind}:${port}`, tcpTarget(bind, port), {}, (ch) =>
        this.conn.forwardOut(info.bindAddr ?? '', port, '127.0.0.1', 0, ch),
      )
      return accept?.(port)
    }
    if (
      name === 'streamlocal-forward@openssh.com' ||
      name === 'cancel-streamlocal-forward@openssh.com'
    ) {
      const path = info.socketPath!
      if (name.startsWith('cancel')) return this.#cancel(`unix:${path}`, accept)
      const keyRefused = socketRefusal(this.id)
      if (keyRefused) throw new Error(keyRefused)
      const { client, user, t } = await this.#target()
      await this.#listenOn(
        client,
        t,
        `unix:${path}`,
        listenInside(user) === 'as-root' ? `unix:${path}` : `unix:${privateSocket()}`,
        { uid: user.uid, gid: user.gid, mode: '0600' },
        (ch) => this.conn.openssh_forwardOutStreamLocal(path, ch),
        listenInside(user) === 'as-user' ? { path, user } : undefined,
      )
      return accept?.()
    }
    throw new Error('unsupported global request')
  }

  /** -R with a listener made inside the container (half-close works); undefined: use a device */
  async #listenInside(
    client: IncusClient,
    t: Login,
    bind: string,
    port: number,
    bindAddr: string,
  ): Promise<number | undefined> {
    const pid = isIP(bind) ? await insidePid(client, t.instance, t.project) : undefined
    if (!pid) return undefined
    let bound = port
    const l = listenInNetns(pid, bind, port, (stream) =>
      this.conn.forwardOut(bindAddr, bound, '127.0.0.1', 0, (err, ch) =>
        err ? stream.destroy() : join(stream, ch),
      ),
    )
    bound = l.port
    const key = `tcp:${bind}:${bound}`
    if (this.#listen.has(key) || this.#closed) {
      l.stop()
      throw new Error(this.#closed ? 'the connection has ended' : `${key} is already forwarded`)
    }
    this.#listen.set(key, Promise.resolve({ device: '', path: '', remove: async () => l.stop() }))
    return bound
  }

  async #listenOn(
    client: IncusClient,
    t: Login,
    key: string,
    listen: string,
    owner: { uid?: number; gid?: number; mode?: string },
    open: (cb: (err: Error | undefined, ch: ServerChannel) => void) => void,
    /** the user's own path, linked to `listen` by the user itself (policy.ts listenInside) */
    link?: { path: string; user: InstanceUser },
  ): Promise<void> {
    if (this.#listen.has(key)) throw new Error(`${key} is already forwarded`)
    const f = listenForward(client, t.instance, t.project, listen, owner, (sock) =>
      open((err, ch) => (err ? sock.destroy() : join(sock, ch))),
    ).then((fwd) => (link ? linkAsUser(client, t, fwd, listen.slice(5), link) : fwd))
    this.#listen.set(key, f)
    f.catch(() => this.#listen.delete(key))
    await f
    // the connection ended while the device was being added: close() did not see it yet
    if (this.#closed) await (await f).remove()
  }

  async #cancel(key: string, accept: Reply): Promise<void> {
    const f = this.#listen.get(key)
    if (!f) throw new Error(`${key} is not forwarded`)
    this.#listen.delete(key)
    await (await f).remove()
    accept?.()
  }

  /** SSH_AUTH_SOCK for a session of this connection (one socket per connection). */
  async agent(client: IncusClient, t: Login, user: InstanceUser): Promise<string> {
    const key = `agent:${t.project}/${t.instance}`
    let f = this.#listen.get(key) as Promise<Forward & { instancePath: string }> | undefined
    if (!f) {
      f = agentSocket(this.conn, client, t.instance, t.project, user)
      this.#listen.set(key, f)
    }
    return (await f).instancePath
  }

  /** Removes every device of this connection. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const all = [...this.#open.values(), ...this.#listen.values()]
    this.#open.clear()
    this.#listen.clear()
    await Promise.all(
      all.map((p) =>
        p
          .then((f) => f.remove())
          .catch((err) => logger.debug(`remove forwarding: ${(err as Error).message}`)),
      ),
    )
  }
}

/** a socket path in the instance's /run, which only root may write */
function privateSocket(): string {
  return `/run/burrow-fwd-${randomBytes(9).toString('hex')}.sock`
}

// run as the instance user: the user's rights decide where the link may go and what it replaces
const LINK = 'ln -s -- "$1" "$2"'
// removes the link only while it is still ours; as the user, so a swapped folder gains nothing
const UNLINK = '[ "$(readlink -- "$2")" = "$1" ] && rm -f -- "$2"; exit 0'

/** Makes `link.path` a symlink to the private socket, as the user; undoes it on remove(). */
async function linkAsUser(
  client: IncusClient,
  t: Login,
  fwd: Forward,
  target: string,
  link: { path: string; user: InstanceUser },
): Promise<Forward> {
  const as = { user: link.user.uid, group: link.user.gid, cwd: link.user.home }
  const sh = (script: string) =>
    run(client, t.instance, t.project, ['/bin/sh', '-c', script, 'sh', target, link.path], as)
  const res = await sh(LINK)
  if (res.code !== 0) {
    await fwd.remove()
    const why = res.stderr.trim() || `exit status ${res.code}`
    throw new Error(`cannot create ${link.path} as ${link.user.name}: ${why}`)
  }
  return {
    ...fwd,
    remove: async () => {
      await fwd.remove()
      const r = await sh(UNLINK)
      if (r.code !== 0) logger.debug(`unlink ${link.path} in ${t.instance}: ${r.stderr.trim()}`)
    },
  }
}
