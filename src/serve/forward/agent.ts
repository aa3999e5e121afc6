/**
 * Agent forwarding (`ssh -A`): a unix socket inside the instance (an Incus proxy device listening
 * there, owned by the instance user, mode 0600) whose every connection becomes an
 * `auth-agent@openssh.com` channel to the client. ssh2 has no public server-side API to open
 * that channel; `openAgentChannel` is the one place that uses its internals.
 */
import { randomBytes } from 'node:crypto'
import type { Connection, ServerChannel } from 'ssh2'
import { logger } from '../../core/log'
import type { IncusClient } from '../../incus'
import type { Forward } from '../../incus/forward'
import { listenForward } from '../../incus/forward'
import type { InstanceUser } from '../session/instance'
import { join } from './pipe'

interface Internals {
  _chanMgr: { add(cb: unknown): number }
  _protocol: { openssh_authAgent(chan: number, window: number, packet: number): void }
}

/**
 * Asks the client to open an `auth-agent@openssh.com` channel (OpenSSH PROTOCOL.agent), as
 * ssh2's own openChannel() does for forwarded-tcpip: reserve a local channel id with a callback
 * that the CHANNEL_OPEN_CONFIRMATION/FAILURE handlers call, then send CHANNEL_OPEN.
 */
export function openAgentChannel(
  conn: Connection,
  cb: (err: Error | undefined, ch?: ServerChannel) => void,
): void {
  const { MAX_WINDOW, PACKET_SIZE } = require('ssh2/lib/Channel.js') as {
    MAX_WINDOW: number
    PACKET_SIZE: number
  }
  const c = conn as unknown as Internals
  if (
    typeof c._chanMgr?.add !== 'function' ||
    typeof c._protocol?.openssh_authAgent !== 'function'
  ) {
    cb(new Error('this ssh2 version has no auth-agent channel internals'))
    return
  }
  const wrapper = Object.assign((err: Error | undefined, ch?: ServerChannel) => cb(err, ch), {
    type: 'auth-agent@openssh.com',
  })
  const local = c._chanMgr.add(wrapper)
  if (local === -1) {
    cb(new Error('No free channels available'))
    return
  }
  c._protocol.openssh_authAgent(local, MAX_WINDOW, PACKET_SIZE)
}

/** The agent socket inside the instance; its path is what SSH_AUTH_SOCK gets. */
export async function agentSocket(
  conn: Connection,
  client: IncusClient,
  instance: string,
  project: string,
  user: InstanceUser,
): Promise<Forward & { instancePath: string }> {
  const instancePath = `/tmp/burrow-agent-${randomBytes(8).toString('hex')}.sock`
  const f = await listenForward(
    client,
    instance,
    project,
    `unix:${instancePath}`,
    { uid: user.uid, gid: user.gid, mode: '0600' },
    (sock) =>
      openAgentChannel(conn, (err, ch) => {
        if (err || !ch) {
          logger.debug(`agent channel: ${err?.message}`)
          return sock.destroy()
        }
        join(sock, ch)
      }),
  )
  return { ...f, instancePath }
}
