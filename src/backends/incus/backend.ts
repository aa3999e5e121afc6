/**
 * `incus/NAME[.PROJECT]` and `incus/REMOTE:NAME[.PROJECT]` (or `%`): a port inside an instance,
 * reached through an Incus proxy device (forward.ts), so the instance needs no network.
 * Only the grammar is here; opening is in open.ts, a separate entrypoint of the compiled binary.
 */
import { afterPrefix, parsePort } from '../../core/address'
import type { Backend } from '../../core/backend'
import { fail } from '../../core/errors'
import { entryUrl } from '../../core/self'

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
    // its own entrypoint: the Incus client (and yaml) would cost every `burrow proxy` start-up
    const { openIncus } = (await import(entryUrl('backends/incus/open'))) as typeof import('./open')
    return openIncus(addr, opts)
  },
}
