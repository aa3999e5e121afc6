/** `--listen [HOST]:PORT`: its grammar, and binding it with one-line errors. */
import type net from 'node:net'
import { BurrowError, fail } from '../../core/errors'

/** ":2222", "2222", "127.0.0.1:2222", "[::1]:2222" → host (undefined = every address) and port */
export function parseListen(text: string): { host?: string; port: number } {
  const m = /^(?:(?:\[([0-9A-Fa-f:.%\w]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(text)
  const port = m ? Number(m[3]) : NaN
  if (!m || port > 65535)
    fail(
      `parse --listen '${text}'`,
      'expected [HOST]:PORT, e.g. :2222, 127.0.0.1:2222 or [::1]:2222',
    )
  return { host: m[1] ?? (m[2] || undefined), port }
}

const LISTEN_HINTS: Record<string, string> = {
  EADDRINUSE: 'address already in use (is another burrow serve or sshd listening there?)',
  EACCES: 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
  EADDRNOTAVAIL: 'no such address on this host',
}

/** Binds `tcp` to --listen; a foreseeable failure (port taken, no permission) is one line. */
export async function listenTcp(tcp: net.Server, listen: string): Promise<void> {
  const { host, port } = parseListen(listen)
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', (err: NodeJS.ErrnoException) => {
      const hint = LISTEN_HINTS[err.code ?? '']
      reject(new BurrowError(`Failed to listen on ${listen}: ${hint ?? err.message}`))
    })
    tcp.listen({ host, port }, () => resolve())
  })
}
