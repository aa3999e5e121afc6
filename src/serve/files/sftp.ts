/**
 * The `sftp` subsystem. The instance's own sftp-server runs as the instance user through exec,
 * like any command, so files belong to the user and the user's permissions apply; it is also
 * the faster path (bench/serve-files.ts: ~1.5x Incus's endpoint). Root in an instance without
 * sftp-server gets Incus's own SFTP endpoint (nothing needed in the instance). Other users there
 * are refused rather than served as root: Incus's endpoint cannot switch user.
 */
import type { ServerChannel } from 'ssh2'
import { logger } from '../../core/log'
import type { IncusClient } from '../../incus'
import { run } from '../../incus'
import { openSftp } from '../../incus/sftp'

// where distributions put sftp-server (Debian/Ubuntu, Fedora/RHEL, Arch/Alpine, SUSE)
const SFTP_SERVERS = [
  '/usr/lib/openssh/sftp-server',
  '/usr/libexec/openssh/sftp-server',
  '/usr/lib/ssh/sftp-server',
  '/usr/libexec/sftp-server',
  '/usr/lib/sftp-server',
  '/usr/libexec/ssh/sftp-server',
]

/** Shell text for the user's shell: the first sftp-server found, or one clear line and 127. */
export const SFTP_SERVER_COMMAND = [
  `for p in ${SFTP_SERVERS.join(' ')}; do [ -x "$p" ] && exec "$p"; done`,
  `echo "burrow: Failed to start SFTP: no sftp-server in this instance (install openssh-sftp-server; Incus's own SFTP works only as root)" >&2`,
  'exit 127',
].join('\n')

/** Is there an sftp-server in the instance (one short exec as root)? */
export async function hasSftpServer(
  client: IncusClient,
  instance: string,
  project: string,
): Promise<boolean> {
  const probe = `for p in ${SFTP_SERVERS.join(' ')}; do [ -x "$p" ] && exit 0; done; exit 1`
  const r = await run(client, instance, project, ['/bin/sh', '-c', probe]).catch(() => undefined)
  return r?.code === 0
}

/** Relays the channel to Incus's SFTP endpoint until either side ends. */
export async function serveNativeSftp(
  channel: ServerChannel,
  client: IncusClient,
  instance: string,
  project: string,
): Promise<void> {
  let conn: Awaited<ReturnType<typeof openSftp>>
  try {
    conn = await openSftp(client, instance, project)
  } catch (err) {
    channel.stderr.write(`burrow: ${(err as Error).message}\n`)
    channel.exit(1)
    return void channel.end()
  }
  logger.debug(`sftp in ${instance}: Incus SFTP endpoint`)
  channel.pipe(conn)
  // not ending the channel with the endpoint's stream: exit-status must go out before the
  // channel's EOF and CLOSE, or scp and sftp report failure after a correct transfer
  conn.pipe(channel, { end: false })
  conn.resume()
  await new Promise<void>((resolve) => {
    let done = false
    const end = () => {
      if (done) return
      done = true
      conn.destroy()
      resolve()
    }
    conn.once('close', end)
    conn.once('error', (err) => {
      logger.debug(`sftp in ${instance}: ${err.message}`)
      end()
    })
    channel.once('close', end)
  })
  if (!channel.destroyed) {
    channel.exit(0)
    channel.end()
  }
}
