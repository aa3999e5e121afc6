/**
 * A restricted Incus client over the daemon's own unix socket, the way incus-user talks to Incus
 * (lxc/incus cmd/incus-user/proxy.go): the socket accepts `STARTTLS\n`, then a TLS handshake in
 * which the client presents a certificate from the trust store; Incus then treats the connection
 * as that certificate (restricted to its projects) instead of as the socket's root.
 *
 * Bun's fetch and WebSocket take a unix socket path but cannot speak STARTTLS, so each restricted
 * identity gets a private plain-text socket (in this process's 0700 runtime directory, reachable
 * by root only) whose every connection is relayed into its own STARTTLS'd connection — what
 * incus-user's own unix.socket.user does for its users.
 */
import net from 'node:net'
import tls from 'node:tls'
import { chmodSync, rmSync } from 'node:fs'
import { logger } from '../core/log'

export interface StartTlsCredentials {
  /** PEM texts */
  cert: string
  key: string
  /** the daemon's certificate (server.crt, or cluster.crt in a cluster): the only one accepted */
  serverCert: string
}

function pemToDer(pem: string): Buffer {
  const b64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '')
  return Buffer.from(b64, 'base64')
}

const sha256 = (der: Uint8Array) => new Bun.CryptoHasher('sha256').update(der).digest('hex')

/** One STARTTLS'd connection to the daemon; resolves once the handshake passed. */
export function connectStartTls(
  socket: string,
  creds: StartTlsCredentials,
): Promise<tls.TLSSocket> {
  const pinned = sha256(pemToDer(creds.serverCert))
  return new Promise((resolve, reject) => {
    const raw = net.connect(socket)
    raw.once('error', reject)
    raw.once('connect', () => {
      raw.write('STARTTLS\n')
      // the server's certificate is compared by fingerprint below, as incus-user pins it
      const t = tls.connect({
        socket: raw,
        cert: creds.cert,
        key: creds.key,
        rejectUnauthorized: false,
      })
      t.once('error', reject)
      t.once('secureConnect', () => {
        const der = t.getPeerCertificate(false)?.raw
        const got = der ? sha256(der) : ''
        if (got !== pinned) {
          t.destroy()
          const why = `server certificate ${got || '(none)'} is not the daemon's ${pinned}`
          return reject(new Error(why))
        }
        t.off('error', reject)
        resolve(t)
      })
    })
  })
}

/** A plain-text socket at `path` whose connections reach `socket` as the certificate. */
export class StartTlsBridge {
  readonly #server: net.Server
  readonly ready: Promise<void>

  constructor(
    readonly path: string,
    readonly socket: string,
    readonly creds: StartTlsCredentials,
  ) {
    rmSync(path, { force: true })
    this.#server = net.createServer({ pauseOnConnect: true }, (local) => this.#relay(local))
    this.ready = new Promise((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(path, () => {
        this.#server.off('error', reject)
        // its folder is root's 0700 already; the socket itself says so too
        chmodSync(path, 0o600)
        resolve()
      })
    })
    // an idle bridge must not keep a finished process alive
    this.#server.unref()
  }

  #relay(local: net.Socket): void {
    local.on('error', () => {})
    connectStartTls(this.socket, this.creds).then(
      (remote) => {
        remote.on('error', () => local.destroy())
        local.on('close', () => remote.destroy())
        remote.on('close', () => local.destroy())
        local.pipe(remote)
        remote.pipe(local)
        local.resume()
      },
      (err) => {
        const why = (err as Error).message
        logger.info(`Failed to reach incusd on ${this.socket} with a client certificate: ${why}`)
        local.destroy()
      },
    )
  }

  close(): void {
    this.#server.close()
    rmSync(this.path, { force: true })
  }
}
