/**
 * The shared grammar of addresses: `<form>/<rest>` or `<form>%<rest>` (the `%` spelling survives
 * OpenSSH's lowercasing of %h and scp/rsync's `host:path` split), or a plain TCP host. Which forms
 * exist is the backends' business (proxy/registry.ts); these are the pieces they share.
 */
import { fail } from './errors'

/** what may follow a form's prefix: `/`, or `%`, which survives OpenSSH's lowercasing of %h */
export const SEPARATORS = ['/', '%'] as const

/**
 * The remainder after `<prefix>/` or `<prefix>%`, or undefined when `host` is not of that form.
 * A separator is required, so `vsock` never shadows `vsock-mux` (systemd's startswith_sep).
 */
export function afterPrefix(host: string, prefix: string): string | undefined {
  if (!host.startsWith(prefix)) return undefined
  const sep = host[prefix.length]
  return (SEPARATORS as readonly string[]).includes(sep ?? '')
    ? host.slice(prefix.length + 1)
    : undefined
}

/**
 * `unix/run/x` names `/run/x`: a leading `/` is implied unless the rest is already absolute
 * or explicitly relative (`./`), as systemd-ssh-proxy does.
 */
export function socketPath(form: string, rest: string): string {
  if (rest === '' || rest === '/')
    fail(`parse ${form} address`, `the socket path is empty (use ${form}/PATH)`)
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
  // control characters are exactly what is being rejected
  if (/[\x00-\x1f\x7f]/.test(host)) {
    fail(
      `parse host specification ${JSON.stringify(host)}`,
      'it contains a control character (NUL, newline, …)',
    )
  }
}
