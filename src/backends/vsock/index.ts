/** `vsock/CID` and `vsock%CID`: AF_VSOCK to a VM's CID on this host (linux/vm_sockets.h). */
import { afterPrefix } from '../../core/address'
import type { Backend } from '../../proxy/backend'
import { FdStream } from '../../core/stream'
import { fail, failWith } from '../../core/errors'
import {
  AF_VSOCK,
  errno,
  sockaddrVm,
  VMADDR_CID_ANY,
  VMADDR_PORT_ANY,
} from '../../core/ffi/structs'
import { connectSocket } from '../../core/socket'

export interface VsockAddress {
  kind: 'vsock'
  cid: number
  port: number
}

const names: Record<string, number> = { hypervisor: 0, local: 1, host: 2 }

/**
 * A 32-bit vsock number: decimal (leading zeros stay decimal, unlike systemd's C-style octal,
 * because CIDs are written in decimal everywhere else: libvirt XML, Firecracker config) or 0x hex.
 */
function parseU32(text: string, what: string): number {
  if (!/^(0x[0-9a-f]{1,8}|[0-9]{1,10})$/i.test(text)) {
    fail(`parse ${what} '${text}'`, 'expected a decimal or 0x-hex number')
  }
  const n = Number(text)
  if (n > 0xffffffff) fail(`parse ${what} '${text}'`, 'it does not fit in 32 bits')
  return n
}

export function parseCid(text: string): number {
  const named = names[text.toLowerCase()]
  if (named !== undefined) return named
  if (text === 'any' || text === '-1')
    fail(`parse vsock CID '${text}'`, 'VMADDR_CID_ANY names no machine')
  const cid = parseU32(text, 'vsock CID')
  if (cid === VMADDR_CID_ANY)
    fail(`parse vsock CID '${text}'`, 'VMADDR_CID_ANY (0xFFFFFFFF) names no machine')
  return cid
}

export function parseVsockPort(text: string): number {
  const port = parseU32(text, 'vsock port')
  if (port === VMADDR_PORT_ANY)
    fail(`parse vsock port '${text}'`, 'VMADDR_PORT_ANY (0xFFFFFFFF) cannot be connected to')
  return port
}

const hints = {
  [errno.ECONNRESET]: 'nothing listens on that port in the VM: is sshd listening on vsock?',
  [errno.ETIMEDOUT]: 'the VM did not answer: is it booted?',
  19 /* ENODEV */: 'no VM with that CID is running on this host',
  97 /* EAFNOSUPPORT */: 'this kernel has no AF_VSOCK support: load the vhost_vsock module',
}

export function connectVsock(cid: number, port: number, timeoutMs?: number): number {
  try {
    return connectSocket(AF_VSOCK, sockaddrVm(cid, port), timeoutMs)
  } catch (err) {
    failWith(`connect to vsock:${cid}:${port}`, err, hints)
  }
}

export const backend: Backend<VsockAddress> = {
  kind: 'vsock',
  prefixes: ['vsock'],
  usage: 'vsock/CID',
  hostKeys: 'throwaway',
  port: 'vsock',
  portSuffix: true,
  parse(host, port) {
    const rest = afterPrefix(host, 'vsock')
    if (rest === undefined) return undefined
    return { kind: 'vsock', cid: parseCid(rest), port: parseVsockPort(port) }
  },
  format: (addr) => `vsock/${addr.cid} ${addr.port}`,
  async open(addr, opts) {
    return new FdStream(connectVsock(addr.cid, addr.port, opts.timeoutMs))
  },
}
