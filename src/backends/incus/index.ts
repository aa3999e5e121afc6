/**
 * The Incus REST client (endpoints, requests, operations, exec), and the `incus/NAME` backend.
 */
import { afterPrefix, parsePort } from '../../core/address'
import type { Backend } from '../../core/backend'
import { fail } from '../../core/errors'
export { DEFAULT_SOCKET, defaultEndpoint, remoteEndpoint } from './endpoint'
export type { Endpoint, EndpointOptions } from './endpoint'
export { IncusClient, IncusError } from './client'
export type { ApiResponse, InstanceFile, InstanceInfo, Operation, RequestOptions } from './client'
export { Exec, run } from './exec'
export type { ExecHandlers, ExecRequest } from './exec'

/**
 * `incus/NAME[.PROJECT]` and `incus/REMOTE:NAME[.PROJECT]` (or `%`): a port inside an instance,
 * reached through an Incus proxy device (forward.ts), so the instance needs no network.
 */

const NAME = /^[A-Za-z][A-Za-z0-9-]{0,62}$/

export const backend: Backend<'incus'> = {
  kind: 'incus',
  prefixes: ['incus'],
  usage: 'incus/[REMOTE:]NAME[.PROJECT]',
  relayOnly: true,
  parse(host, port) {
    const rest = afterPrefix(host, 'incus')
    if (rest === undefined) return undefined
    const what = `parse Incus address '${host}'`
    const colon = rest.indexOf(':')
    const remote = colon < 0 ? '' : rest.slice(0, colon)
    const [instance = '', project = 'default'] = rest.slice(colon + 1).split(/\.(.*)/s)
    if (remote !== '' && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(remote))
      fail(what, `'${remote}' is not a remote name`)
    if (!NAME.test(instance))
      fail(
        what,
        `'${instance}' is not an instance name (letters, digits and '-', starting with a letter)`,
      )
    if (!/^[A-Za-z0-9_-]+$/.test(project)) fail(what, `'${project}' is not a project name`)
    return { kind: 'incus', remote, instance, project, port: parsePort(port, 'port') }
  },
  format: (a) =>
    `incus/${a.remote ? `${a.remote}:` : ''}${a.instance}${a.project === 'default' ? '' : `.${a.project}`} ${a.port}`,
  async open(addr, opts) {
    const [{ IncusClient: Client }, { remoteEndpoint: endpointOf }, fwd, dev, { connectUnix }] =
      await Promise.all([
        import('./client'),
        import('./endpoint'),
        import('./forward'),
        import('./proxy-device'),
        import('../unix'),
      ])
    const client = new Client(endpointOf(addr.remote))
    // devices of `burrow proxy` runs that were killed before they could remove theirs
    await dev.cleanStale(client, { instance: addr.instance, project: addr.project })
    const f = await fwd.openForward(
      client,
      addr.instance,
      addr.project,
      fwd.tcpTarget('127.0.0.1', addr.port),
    )
    let fd: number
    try {
      fd = connectUnix(f.path, opts.timeoutMs)
    } catch (err) {
      await f.remove()
      throw err
    }
    const libc = await import('../../core/ffi/libc')
    return {
      fd,
      // the device must live as long as the stream: stay and relay, then remove it
      relayOnly: true,
      close: async () => {
        libc.close(fd)
        await f.remove()
        dev.removeRuntimeDir()
      },
    }
  },
}
