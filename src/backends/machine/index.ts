/**
 * `machine/NAME` and `machine%NAME`: a VM or container registered with systemd-machined, found as
 * systemd-ssh-proxy finds it (systemd src/ssh-generator/ssh-proxy.c, 257 and later): one varlink
 * call io.systemd.Machine.List {name} on /run/systemd/machine/io.systemd.Machine, then a VM's
 * `vSockCid` is opened by the vsock backend and an nspawn container's exported sshd socket
 * (/run/systemd/nspawn/unix-export/NAME/ssh, systemd > 259) by the unix backend.
 * `machine/.host` is `.host`, as in systemd's drop-in; no machined is asked.
 */
import { afterPrefix } from '../../core/address'
import type { Backend } from '../../proxy/backend'
import { fail } from '../../core/errors'
import { strerror } from '../../core/ffi/libc'
import { errno } from '../../core/ffi/structs'
import { logger } from '../../core/log'
import { backend as unix, HOST_ALIAS_PATH, type UnixAddress } from '../unix'
import { parseCid, parseVsockPort, backend as vsock, type VsockAddress } from '../vsock'
import { VarlinkError, varlinkCall } from './varlink'

export interface MachineAddress {
  kind: 'machine'
  name: string
  port: number
}

/**
 * The system machined's socket (runtime_directory_generic(RUNTIME_SCOPE_SYSTEM, "systemd/machine/…"))
 * and nspawn's export directory. Fixed paths; only in-process tests point them elsewhere.
 */
export const paths = {
  machined: '/run/systemd/machine/io.systemd.Machine',
  unixExport: '/run/systemd/nspawn/unix-export',
}
const CALL_TIMEOUT_MS = 10_000

/**
 * machined's check, hostname_is_valid(name, VALID_HOSTNAME_DOT_HOST): at most 64 bytes of dot-separated
 * non-empty labels of letters, digits, '-' and '_', or `.host`.
 */
export function validMachineName(name: string): boolean {
  return name === '.host' || (name.length <= 64 && /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(name))
}

const hints: Record<number, string> = {
  [errno.ENOENT]: 'is systemd-machined running? machine/NAME needs systemd 257 or later',
  [errno.ECONNREFUSED]: 'is systemd-machined running?',
  [errno.EACCES]: 'run as a user who may open it',
}

/** The machine's record from machined, or a one-line failure. */
async function listMachine(name: string): Promise<Record<string, unknown>> {
  let reply: Awaited<ReturnType<typeof varlinkCall>>
  try {
    reply = await varlinkCall(paths.machined, 'io.systemd.Machine.List', { name }, CALL_TIMEOUT_MS)
  } catch (err) {
    if (!(err instanceof VarlinkError)) throw err
    const reason = err.errno ? strerror(err.errno) : err.message
    const hint = err.errno ? hints[err.errno] : undefined
    fail(`ask systemd-machined at ${paths.machined}`, hint ? `${reason} (${hint})` : reason)
  }
  if (reply.error === 'io.systemd.Machine.NoSuchMachine') {
    fail(
      `find machine '${name}'`,
      'systemd-machined has no running machine of that name (see machinectl list)',
    )
  }
  if (reply.error) {
    const detail = Object.keys(reply.parameters).length
      ? ` ${JSON.stringify(reply.parameters)}`
      : ''
    fail(`find machine '${name}'`, `systemd-machined answered ${reply.error}${detail}`)
  }
  return reply.parameters
}

/** Where the machine's sshd is: a VM's vsock CID, a container's exported socket, or this host. */
export async function resolveMachine(addr: MachineAddress): Promise<UnixAddress | VsockAddress> {
  const host: UnixAddress = { kind: 'unix', path: HOST_ALIAS_PATH, port: addr.port }
  if (addr.name === '.host') return host
  const m = await listMachine(addr.name)
  const what = `connect to machine '${addr.name}'`
  logger.debug(`machine: ${addr.name}: ${JSON.stringify(m)}`)
  switch (m.class) {
    case 'vm': {
      const cid = m.vSockCid
      if (typeof cid !== 'number') {
        fail(
          what,
          'it is a VM without an AF_VSOCK CID (start it with a vsock device, e.g. systemd-vmspawn --vsock=yes)',
        )
      }
      return { kind: 'vsock', cid: parseCid(String(cid)), port: addr.port }
    }
    case 'container':
      if (m.service !== 'systemd-nspawn')
        fail(
          what,
          `it is a container of '${String(m.service)}', not systemd-nspawn, which exports no sshd socket`,
        )
      return { kind: 'unix', path: `${paths.unixExport}/${addr.name}/ssh`, port: addr.port }
    case 'host':
      return host
    default:
      fail(
        what,
        `machined reports class '${String(m.class)}', and only vm, container and host can be reached`,
      )
  }
}

export const backend: Backend<MachineAddress> = {
  kind: 'machine',
  prefixes: ['machine'],
  // as systemd's drop-in: machines are throwaway, but machine/.host is this host's own sshd
  names: [
    { name: 'machine/.host', hostKeys: 'check' },
    { name: 'machine%.host', hostKeys: 'check' },
  ],
  usage: 'machine/NAME',
  hostKeys: 'throwaway',
  port: 'vsock',
  portSuffix: false,
  parse(host, port) {
    const name = afterPrefix(host, 'machine')
    if (name === undefined) return undefined
    if (!validMachineName(name)) {
      fail(
        `parse machine name '${name}'`,
        'expected up to 64 letters, digits, -, _ in dot-separated labels, or .host',
      )
    }
    return { kind: 'machine', name, port: parseVsockPort(port) }
  },
  format: (addr) => `machine/${addr.name} ${addr.port}`,
  resolve: resolveMachine,
  // proxy resolves before opening (registry.openAddress); this is for callers holding this address
  async open(addr, opts) {
    const target = await resolveMachine(addr)
    return target.kind === 'unix' ? unix.open(target, opts) : vsock.open(target, opts)
  },
}
