/**
 * `qemu:system/NAME`, `qemu:session/NAME` and `qemu/NAME` (`%` works as well as `/`): a libvirt
 * domain's vsock CID, found as libvirt-ssh-proxy finds it, then opened by the vsock backend.
 * NAME is a domain name, UUID or ID. Bare `qemu/` tries qemu:///system, then qemu:///session
 * except as root, whose session daemon would be a different, usually empty, one.
 */
import { afterPrefix } from '../../core/address'
import type { Backend } from '../../proxy/backend'
import { fail } from '../../core/errors'
import { logger } from '../../core/log'
import { entryUrl } from '../../core/self'
import { backend as vsock, parseCid, parseVsockPort, type VsockAddress } from '../vsock'

/** a libvirt domain; `uri` undefined means qemu:///system, then qemu:///session unless root */
export interface LibvirtAddress {
  kind: 'libvirt'
  uri?: string
  name: string
  port: number
}

const SYSTEM = 'qemu:///system'
const SESSION = 'qemu:///session'
const URIS = new Map([
  ['qemu:system', SYSTEM],
  ['qemu:session', SESSION],
])
const FORMS = 'qemu:system/NAME, qemu:session/NAME or qemu/NAME'

/** The part after `qemu`, `qemu:system` or `qemu:session` and its separator, and the URI. */
function split(host: string): { uri?: string; rest: string } | undefined {
  if (!host.startsWith('qemu:')) {
    const rest = afterPrefix(host, 'qemu')
    return rest === undefined ? undefined : { rest }
  }
  // only libvirt says `qemu:`: no other form or host name has a ':' there
  const form = /^qemu:[^/%]*/.exec(host)![0]
  const uri = URIS.get(form)
  if (!uri)
    fail(`parse libvirt address '${host}'`, `Unknown connection URI '${form}' (use ${FORMS})`)
  const rest = afterPrefix(host, form)
  if (rest === undefined) fail(`parse libvirt address '${host}'`, `expected ${form}/NAME`)
  return { uri, rest }
}

function checkName(host: string, name: string): void {
  const what = `parse libvirt address '${host}'`
  if (name === '') fail(what, `the domain name is empty (use ${FORMS})`)
  if (name.includes('/')) {
    const [first, ...others] = name.split('/')
    const hint = URIS.has(`qemu:${first}`)
      ? `; did you mean qemu:${first}/${others.join('/')}?`
      : ''
    fail(what, `libvirt domain names cannot contain '/'${hint}`)
  }
}

function prefixOf(uri: string | undefined): string {
  return [...URIS].find(([, u]) => u === uri)?.[0] ?? 'qemu'
}

/** The domain's vsock address: the vsock backend connects it, there is no second implementation. */
async function resolveDomain(addr: LibvirtAddress): Promise<VsockAddress> {
  const root = process.geteuid?.() === 0
  const uris = addr.uri ? [addr.uri] : root ? [SYSTEM] : [SYSTEM, SESSION]
  // the RPC client is its own entrypoint of the compiled binary: bundled in, it cost every start-up
  const { findVsockCid } = (await import(
    entryUrl('backends/libvirt/lookup')
  )) as typeof import('./lookup')
  const found = await findVsockCid(addr.name, uris)
  logger.debug(`libvirt: domain '${found.name}' in ${found.uri} has vsock CID ${found.cid}`)
  return { kind: 'vsock', cid: parseCid(found.cid), port: addr.port }
}

export const backend: Backend<LibvirtAddress> = {
  kind: 'libvirt',
  prefixes: ['qemu', 'qemu:system', 'qemu:session'],
  usage: 'qemu[:system|:session]/NAME',
  // libvirt domains are stable machines (libvirt's drop-in checks them): a key that changed
  // after a CID moved to another VM is caught
  hostKeys: 'check',
  port: 'vsock',
  portSuffix: false,
  parse(host, port) {
    const found = split(host)
    if (!found) return undefined
    checkName(host, found.rest)
    const addr = { kind: 'libvirt' as const, name: found.rest, port: parseVsockPort(port) }
    return found.uri ? { ...addr, uri: found.uri } : addr
  },
  format: (addr) => `${prefixOf(addr.uri)}/${addr.name} ${addr.port}`,
  resolve: resolveDomain,
  // proxy resolves before opening (registry.openAddress); this is for callers holding this address
  open: async (addr, opts) => vsock.open(await resolveDomain(addr), opts),
}
