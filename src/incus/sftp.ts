/**
 * Incus's own SFTP server for an instance: `GET /1.0/instances/NAME/sftp` with `Upgrade: sftp`
 * (lxc/incus client/incus_instances.go GetInstanceFileSFTPConn). After `101 Switching Protocols`
 * the connection carries SFTP v3, served as root inside the instance (forkfile / VM agent), with
 * nothing installed there.
 */
import net from 'node:net'
import tls from 'node:tls'
import type { Duplex } from 'node:stream'
import type { IncusClient } from './client'
import { IncusError, tlsOptions } from './client'

/** A raw connection to the daemon, upgraded to `protocol` at `path`. */
export async function upgrade(
  client: IncusClient,
  path: string,
  protocol: string,
  what: string,
): Promise<Duplex> {
  const ep = client.endpoint
  const sock: net.Socket =
    ep.kind === 'unix'
      ? net.connect(await client.unixPath())
      : (() => {
          const u = new URL(ep.url)
          return tls.connect({
            host: u.hostname,
            port: Number(u.port || 8443),
            servername: u.hostname,
            ...(tlsOptions(ep) as tls.ConnectionOptions),
          })
        })()
  const host = ep.kind === 'unix' ? 'incus' : new URL(ep.url).host
  return new Promise<Duplex>((resolve, reject) => {
    let head = Buffer.alloc(0)
    const failed = (reason: string, code = 0) => {
      sock.destroy()
      reject(new IncusError(`Failed to ${what}: ${reason}`, code))
    }
    sock.once('error', (err) => failed(err.message))
    sock.once(ep.kind === 'unix' ? 'connect' : 'secureConnect', () =>
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`,
      ),
    )
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) {
        if (head.length > 65536) failed('oversized response headers')
        return
      }
      sock.off('data', onData)
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.toString('latin1'))?.[1] ?? 0)
      if (status !== 101) {
        // the error envelope follows the headers; it may need another read or two
        sock.pause()
        const body = head.subarray(end + 4).toString()
        const reason = /"error":\s*"([^"]*)"/.exec(body)?.[1] || `HTTP ${status}`
        return failed(reason, status)
      }
      sock.pause()
      sock.removeAllListeners('error')
      // bytes after the headers already belong to the upgraded protocol
      const rest = head.subarray(end + 4)
      if (rest.length) sock.unshift(rest)
      resolve(sock)
    }
    sock.on('data', onData)
  })
}

/** An SFTP v3 connection into the instance, served by Incus as root. */
export function openSftp(client: IncusClient, instance: string, project: string): Promise<Duplex> {
  const path = client.path(`/1.0/instances/${encodeURIComponent(instance)}/sftp`, { project })
  return upgrade(client, path, 'sftp', `open SFTP in instance ${instance}`)
}
