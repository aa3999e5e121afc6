/**
 * `incus/NAME[.PROJECT]` and `incus/REMOTE:NAME[.PROJECT]` (or `%`): a port inside an instance,
 * reached through an Incus proxy device (forward.ts), so the instance needs no network.
 * Only the grammar is here; opening is in src/incus/open.ts, a separate entrypoint of the
 * compiled binary that implements IncusOpener.
 */
import { afterPrefix, parsePort } from '../../core/address'
import type { Backend, OpenOptions, Stream } from '../../proxy/backend'
import { fail } from '../../core/errors'
import { entryUrl } from '../../core/self'

/** a port inside an Incus instance, reached through the Incus API (`remote` '' = default) */
export interface IncusAddress {
  kind: 'incus'
  remote: string
  instance: string
  project: string
  port: number
}

/**
 * What the `incus/open` entrypoint (src/incus/open.ts) exports: the Incus client lies above the
 * backends, so it implements this interface and is loaded by path, never imported from here.
 */
export interface IncusOpener {
  openIncus(addr: IncusAddress, opts: OpenOptions): Promise<Stream>
}

const NAME = /^[A-Za-z][A-Za-z0-9-]{0,62}$/

export const backend: Backend<IncusAddress> = {
  kind: 'incus',
  prefixes: ['incus'],
  usage: 'incus/[REMOTE:]NAME[.PROJECT]',
  // instances are recreated under the same name all the time
  hostKeys: 'throwaway',
  port: 'tcp',
  portSuffix: false,
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
    // its own entrypoint: the Incus client (and yaml) would cost every `burrow proxy` start-up
    const { openIncus } = (await import(entryUrl('incus/open'))) as IncusOpener
    return openIncus(addr, opts)
  },
}
