/**
 * Addresses in burrow's grammar: `<form>/<rest>` or `<form>%<rest>` (the `%` spelling survives
 * OpenSSH's lowercasing of %h and scp/rsync's `host:path` split), or a plain TCP host.
 */
import { fail } from './errors'

export type Address =
  | { kind: 'unix'; path: string; port: number }
  | { kind: 'vsock'; cid: number; port: number }
  | { kind: 'vsock-mux'; path: string; port: number }
  /** a machine registered with systemd-machined (`.host` is this host's own sshd) */
  | { kind: 'machine'; name: string; port: number }
  /** a libvirt domain; `uri` undefined means qemu:///system, then qemu:///session unless root */
  | { kind: 'libvirt'; uri?: string; name: string; port: number }
  /** a port inside an Incus instance, reached through the Incus API (`remote` '' = default) */
  | { kind: 'incus'; remote: string; instance: string; project: string; port: number }
  | { kind: 'tcp'; host: string; port: number }

export type AddressKind = Address['kind']
export type AddressOf<K extends AddressKind> = Extract<Address, { kind: K }>

/**
 * The remainder after `<prefix>/` or `<prefix>%`, or undefined when `host` is not of that form.
 * A separator is required, so `vsock` never shadows `vsock-mux` (systemd's startswith_sep).
 */
export function afterPrefix(host: string, prefix: string): string | undefined {
  if (!host.startsWith(prefix)) return undefined
  const sep = host[prefix.length]
  return sep === '/' || sep === '%' ? host.slice(prefix.length + 1) : undefined
}

/**
 * `unix/run/x` names `/run/x`: a leading `/` is implied unless the rest is already absolute
 * or explicitly relative (`./`), as systemd-ssh-proxy does.
 */
export function socketPath(form: string, rest: string): string {
  if (rest === '' || rest === '/') fail(`parse ${form} address`, `the socket path is empty (use ${form}/PATH)`)
  return rest.startsWith('/') || rest.startsWith('./') ? rest.replace(/^\/+/, '/') : `/${rest}`
}

/** The burrow spelling of a socket path: `unix/run/x`, `unix/./x`. */
export function formatPath(form: string, path: string): string {
  return path.startsWith('/') ? `${form}${path}` : `${form}/${path}`
}

/**
 * A port as ssh's %p gives it: decimal digits only, within [min, max]. Leading zeros are decimal
 * (not C's octal), so `010` is 10.
 */
export function parsePort(text: string, what: string, max = 65535, min = 1): number {
  if (!/^[0-9]{1,10}$/.test(text)) fail(`parse ${what}`, `'${text}' is not a decimal number`)
  const n = Number(text)
  if (n < min || n > max) fail(`parse ${what}`, `${n} is out of range (${min}-${max})`)
  return n
}

/** Rejects NUL, newlines and other control characters before any backend sees the host. */
export function checkHostText(host: string): void {
  if (host === '') fail('parse host specification', 'it is empty')
  // biome-ignore lint: control characters are exactly what is being rejected
  if (/[\x00-\x1f\x7f]/.test(host)) {
    fail(`parse host specification ${JSON.stringify(host)}`, 'it contains a control character (NUL, newline, …)')
  }
}
