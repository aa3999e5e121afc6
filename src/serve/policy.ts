/**
 * Every permission decision `burrow serve` makes, in one module a reviewer can audit alone.
 * Each exported rule maps one-to-one onto a row of docs/security.md; handlers ask these
 * functions and never decide on their own.
 */
import type { AccountStatus } from './auth/accounts'
import type { AuthorizedKey, HostPort, KeyOptions } from './auth/authorized-keys'
import { defaultKeyOptions } from './auth/authorized-keys'
import { globMatch, matchFrom } from './auth/patterns'
import type { Account } from './auth/accounts'
import type { Login, Target } from './auth/login'

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
export function accountRefusal(
  name: string,
  s: AccountStatus,
  now = Date.now(),
): string | undefined {
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

/** The flags byte of a FIDO authenticator's signature (PROTOCOL.u2f). */
export const SK_USER_PRESENT = 0x01
export const SK_USER_VERIFIED = 0x04

/**
 * A security key (sk-*) signature counts only when the authenticator says the user touched it,
 * unless the key's line has `no-touch-required`, and says it verified the user (PIN, biometrics)
 * when the line has `verify-required`, as sshd's user_key_allowed checks (auth2-pubkey.c).
 */
export function skSignatureRefusal(
  key: Pick<AuthorizedKey, 'options'>,
  flags: number,
): string | undefined {
  if (key.options.touchRequired && !(flags & SK_USER_PRESENT))
    return 'the security key signature lacks user presence (no touch; the key line has no no-touch-required)'
  if (key.options.verifyRequired && !(flags & SK_USER_VERIFIED))
    return 'the security key signature lacks user verification (verify-required)'
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
  if (!options(who).portForwarding)
    return `port forwarding is off for this key (${who.key?.origin})`
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
export function keyEnvironment(
  who: KeyHolder,
  permitUserEnvironment: boolean,
): Record<string, string> {
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
  // @libssh.org first, as in ssh2's own default: a client that sends a guessed first KEX packet
  // (Dropbear's kexguess2) and finds its first choice equal to ours waits for a reply to that
  // guess, and ssh2 loses a packet that arrives with the KEXINIT. With our first choice different,
  // Dropbear sends its KEXDH_INIT again and the exchange completes (tests/compat, dbclient row).
  'curve25519-sha256@libssh.org',
  'curve25519-sha256',
  'ecdh-sha2-nistp256',
  'ecdh-sha2-nistp384',
  'ecdh-sha2-nistp521',
] as const

// --- Incus reach and forwarding (docs/security.md: "what a login reaches in Incus") ----------
//
// serve opens the Incus admin socket as root; these rules decide whose rights each use of it
// carries. Incus authorizes Incus (projects, restricted certificates), the kernel authorizes files
// and sockets (uid, gid, groups); burrow only picks which identity asks.

/** How one authenticated connection reaches Incus. */
export type IncusAccess =
  /** root, or a member of incus-admin: the daemon's own socket, as `incus` gives them */
  | { kind: 'admin'; root: boolean; account: Account }
  /** a member of incus: Incus's restricted client certificate for project user-<uid> */
  | { kind: 'user'; account: Account; project: string }
  /** --inauth identity (no host account): only the instance whose keys admitted it */
  | { kind: 'instance'; target: Login }
  | { kind: 'none'; reason: string }

export interface IncusGroups {
  /** gids of incus-admin */
  admin: Set<number>
  /** gids of incus */
  user: Set<number>
}

/** Incus rows 1-4: the Incus identity a login acts as. */
export function incusAccess(
  id: { account?: Account; target: Target },
  g: IncusGroups,
): IncusAccess {
  const a = id.account
  if (!a) {
    if (id.target.kind === 'login' && id.target.command === undefined)
      return { kind: 'instance', target: id.target }
    return {
      kind: 'none',
      reason: 'an identity without a host account may only use its own instance',
    }
  }
  if (a.uid === 0) return { kind: 'admin', root: true, account: a }
  if (a.gids.some((x) => g.admin.has(x))) return { kind: 'admin', root: false, account: a }
  if (a.gids.some((x) => g.user.has(x)))
    return { kind: 'user', account: a, project: `user-${a.uid}` }
  return {
    kind: 'none',
    reason: `host user '${a.name}' is in neither incus-admin nor incus, so Incus gives it nothing`,
  }
}

/**
 * Incus row 2: the project a login names, as the person's own `incus` client would use it. For a
 * member of incus, no project (or `default`) means its own user-<uid>, which is the project
 * incus-user's client config selects; anything else goes to Incus as written, and Incus refuses
 * projects the certificate is not restricted to.
 */
export function projectFor(access: IncusAccess, project: string): string {
  return access.kind === 'user' && project === 'default' ? access.project : project
}

/**
 * Incus row 5: named Incus remotes (and -r) use the credentials in the server's own config.yml
 * (root's client certificate), so only root may use them; everyone else reaches the local daemon.
 */
export function mayUseRemote(access: IncusAccess, remote: string): string | undefined {
  if (remote === '' || remote === 'local') return undefined
  if (access.kind === 'admin' && access.root) return undefined
  return `Incus remote '${remote}' uses this server's own credentials: only root may use it`
}

/** Incus row 4: an --inauth identity reaches its own instance and nothing else. */
export function mayReachInstance(
  access: IncusAccess,
  remote: string,
  instance: string,
  project: string,
): string | undefined {
  if (access.kind === 'none') return access.reason
  if (access.kind !== 'instance') return undefined
  const t = access.target
  if (
    (t.remote || 'local') === (remote || 'local') &&
    t.instance === instance &&
    t.project === project
  )
    return undefined
  return `an identity admitted by ${t.instance}'s own keys may only use ${t.instance}`
}

/** Incus row 6: `%shell` runs the incus client with the server's rights: host root only. */
export function mayUseIncusShell(access: IncusAccess): string | undefined {
  return access.kind === 'admin' && access.root ? undefined : 'only root may use the Incus shell'
}

/**
 * Forwarding row 1: a jump to a non-Incus address (unix%PATH, vsock%CID, qemu:…) is opened by a
 * child running as the host account (uid, gid, every group), so the kernel's file permissions and
 * the daemon's own peer checks apply. Identities without a host account may not jump.
 */
export function jumpAs(access: IncusAccess): { account: Account } | { refused: string } {
  if (access.kind === 'admin' || access.kind === 'user') return { account: access.account }
  if (access.kind === 'instance')
    return {
      refused: `an identity admitted by ${access.target.instance}'s own keys may only forward inside it`,
    }
  return { refused: access.reason }
}

/**
 * Forwarding row 3: what burrow connects to inside the login's instance (`-L`, `-D`) connects as
 * the instance user: the Incus proxy device drops to its uid and gid (security.uid/gid) before it
 * connects, so a socket the user cannot open is refused by the instance's kernel.
 */
export function connectAs(user: { uid: number; gid: number }): { uid: number; gid: number } {
  return { uid: user.uid, gid: user.gid }
}

/**
 * Forwarding row 3c: `-R` below port 1024 inside the instance only for a root instance user, as
 * sshd refuses it to non-root users and the instance's kernel would (burrow's listener, or
 * Incus's forkproxy, binds as root).
 */
export function privilegedPortRefusal(user: { uid: number }, port: number): string | undefined {
  return user.uid !== 0 && port > 0 && port < 1024
    ? `only root may listen on port ${port}`
    : undefined
}

/**
 * Forwarding row 3b: burrow (root) may make the socket itself inside a local container's network
 * namespace instead of using a proxy device (half-close works, refusals are known before the
 * channel is accepted). For TCP to an address that is the same connect any process in the
 * container can make, so it is allowed whoever the instance user is (the instance user could
 * make it with `incus exec`). A socket path must be opened with the instance user's rights, so
 * only a root instance user takes this way (and then the path resolves inside the container's
 * root: netns.ts, openat2 RESOLVE_IN_ROOT); any other goes through a device with its uid/gid.
 */
export function insideSocketAllowed(
  target: { host: string; port: number } | { path: string },
  as: { uid: number } | undefined,
): boolean {
  return 'host' in target || !as || as.uid === 0
}

/**
 * Forwarding row 4: a `-R` socket path inside the instance. For root it is the path itself. For
 * any other instance user, root (Incus's forkproxy) only ever creates, chowns and removes a socket
 * in a directory the user cannot write (`/run`), and the user's own path is a symlink made and
 * removed by a process running as the user — so nothing done as root follows a path that user
 * controls, and the user can only create and delete what it could without burrow.
 */
export function listenInside(user: { uid: number }): 'as-root' | 'as-user' {
  return user.uid === 0 ? 'as-root' : 'as-user'
}
