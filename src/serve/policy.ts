/**
 * Every permission decision `burrow serve` makes, in one module a reviewer can audit alone.
 * Each exported rule maps one-to-one onto a row of docs/security.md; handlers ask these
 * functions and never decide on their own.
 */
import type { AccountStatus } from './accounts'
import type { AuthorizedKey, HostPort, KeyOptions } from './authorized-keys'
import { defaultKeyOptions, globMatch, matchFrom } from './authorized-keys'

// --- Login and key options (docs/security.md: "who may log in, and what a key allows") -------

/** Who a connection authenticated as, as far as these rules need it. */
export interface KeyHolder {
  /** the authorized_keys entry that admitted the client; none for password or --noauth */
  key?: Pick<AuthorizedKey, 'options' | 'origin'>
}

const DAY_MS = 86_400_000

/**
 * Locked and expired host accounts are refused for every method, as sshd without PAM
 * (auth.c allowed_user): a password field starting with `!` is locked; the account expires
 * once the day count since the epoch is past the shadow expiry field.
 */
export function accountRefusal(name: string, s: AccountStatus, now = Date.now()): string | undefined {
  if (s.locked) return `account '${name}' is locked`
  if (s.expireDay !== undefined && Math.floor(now / DAY_MS) > s.expireDay)
    return `account '${name}' has expired`
  return undefined
}

/** A key is used only from the sources its from= allows and not after its expiry-time. */
export function keyRefusal(
  key: Pick<AuthorizedKey, 'options'>,
  ip: string,
  now = Date.now(),
): string | undefined {
  const o = key.options
  if (o.from && !matchFrom(o.from, ip)) return `from= does not allow ${ip}`
  if (o.expiresAt !== undefined && now >= o.expiresAt)
    return `expired at ${new Date(o.expiresAt).toISOString()} (expiry-time)`
  return undefined
}

function options(who: KeyHolder): KeyOptions {
  return who.key?.options ?? defaultKeyOptions()
}

/** pty-req: refused for `no-pty` and `restrict` keys unless `pty` re-enables it. */
export function mayAllocatePty(who: KeyHolder): boolean {
  return options(who).pty
}

/** auth-agent-req: refused for `no-agent-forwarding` and `restrict` keys. */
export function mayForwardAgent(who: KeyHolder): boolean {
  return options(who).agentForwarding
}

/** x11-req: burrow serve has no X11 forwarding, whatever the key says. */
export function mayForwardX11(_who: KeyHolder): boolean {
  return false
}

/**
 * direct-tcpip (-L, -D, -W, -J, jump addresses): needs port forwarding, and with permitopen=
 * the destination must be listed (host compared case-insensitively, `*` any host or port).
 */
export function openRefusal(who: KeyHolder, host: string, port: number): string | undefined {
  const o = options(who)
  if (!o.portForwarding) return `port forwarding is off for this key (${who.key?.origin})`
  if (o.permitOpen.length && !o.permitOpen.some((p) => hostPortMatch(p, host, port, false)))
    return `${host}:${port} is not in the key's permitopen (${who.key?.origin})`
  return undefined
}

/**
 * tcpip-forward (-R): needs port forwarding, and with permitlisten= the listen address must
 * match one (host patterns as in ssh_config, `*` any port; a bare port means any host).
 */
export function listenRefusal(who: KeyHolder, host: string, port: number): string | undefined {
  const o = options(who)
  if (!o.portForwarding) return `port forwarding is off for this key (${who.key?.origin})`
  if (o.permitListen.length && !o.permitListen.some((p) => hostPortMatch(p, host, port, true)))
    return `${host}:${port} is not in the key's permitlisten (${who.key?.origin})`
  return undefined
}

/**
 * direct-streamlocal and streamlocal-forward (unix sockets, -L/-R with a path): need port
 * forwarding; permitopen and permitlisten name TCP addresses only (as in sshd).
 */
export function socketRefusal(who: KeyHolder): string | undefined {
  if (!options(who).portForwarding) return `port forwarding is off for this key (${who.key?.origin})`
  return undefined
}

function hostPortMatch(p: HostPort, host: string, port: number, glob: boolean): boolean {
  if (p.port !== undefined && p.port !== port) return false
  if (p.host === '*') return true
  return glob ? globMatch(p.host, host) : p.host.toLowerCase() === host.toLowerCase()
}

/** What a session runs: the client's request, unless the key forces a command. */
export interface SessionCommand {
  /** undefined = the login shell */
  command?: string
  /** SSH_ORIGINAL_COMMAND and friends to add */
  env: Record<string, string>
  /** the key's command= replaced the request: no sftp server, no persistent session */
  forced: boolean
}

/**
 * command= replaces shell, exec and subsystem requests; the client's command (or the subsystem
 * name) goes to SSH_ORIGINAL_COMMAND, as in sshd's do_exec.
 */
export function sessionCommand(who: KeyHolder, requested: string | undefined): SessionCommand {
  const forced = options(who).command
  if (forced === undefined) return { command: requested, env: {}, forced: false }
  return {
    command: forced,
    env: requested === undefined ? {} : { SSH_ORIGINAL_COMMAND: requested },
    forced: true,
  }
}

/**
 * environment= options reach the session only with --permit-user-environment (sshd's
 * PermitUserEnvironment, off by default); the first value of a name wins.
 */
export function keyEnvironment(who: KeyHolder, permitUserEnvironment: boolean): Record<string, string> {
  const out: Record<string, string> = {}
  if (!permitUserEnvironment) return out
  for (const [k, v] of options(who).environment) if (!(k in out)) out[k] = v
  return out
}

/**
 * Key exchanges offered before authentication: only those whose handshake here takes
 * milliseconds (measured, docs/security.md). The finite-field groups run Bun's modular
 * exponentiation on the one event loop (group14 ~0.7 s, group16 ~9 s, group18 ~50 s) and
 * diffie-hellman-group-exchange-* is not implemented by ssh2's server, so none is offered.
 */
export const OFFERED_KEX = [
  'curve25519-sha256',
  'curve25519-sha256@libssh.org',
  'ecdh-sha2-nistp256',
  'ecdh-sha2-nistp384',
  'ecdh-sha2-nistp521',
] as const

// --- Incus reach and forwarding (docs/security.md: "what a login reaches in Incus") ----------
