/**
 * Authentication of one SSH connection. The login name is parsed and the host user checked before
 * any key or password is looked at, and nothing here talks to Incus — except `--inauth`, whose
 * keys live inside the instance — so an unauthenticated client learns nothing about instances.
 * Method chains follow sshd's AuthenticationMethods: alternatives of comma-joined methods that must
 * all pass, answered with partial success.
 */
import { readFileSync } from 'node:fs'
import { utils } from 'ssh2'
import type { AuthContext, PublicKeyAuthContext } from 'ssh2'
import { logger } from '../../core/log'
import type { Account, AccountFiles } from './accounts'
import { accountStatus, lookupAccount, mayUseIncus } from './accounts'
import type { AuthorizedKey } from './authorized-keys'
import { findKeys, parseAuthorizedKeys } from './authorized-keys'
import { accountRefusal, keyRefusal, skSignatureRefusal } from '../policy'
import { isSkKeyType, verifySk } from './sk'
import type { Login, Target } from './login'
import { LoginError, parseLogin } from './login'

export type Method = 'publickey' | 'password'

export interface AuthOptions {
  /** alternatives, each a list of methods that must all pass */
  chains: Method[][]
  noauth: boolean
  inauth: boolean
  allowedGids: Set<number>
  /** failed attempts before the connection is dropped (sshd's MaxAuthTries) */
  maxTries: number
  accountFiles?: AccountFiles
  /** authorized_keys paths with %h/%u/%U tokens; default DEFAULT_KEY_FILES */
  keyFiles?: string[]
}

export interface AuthDeps {
  /** --inauth: the instance user's own authorized_keys, read through the Incus file API */
  instanceKeys?(target: Login): Promise<AuthorizedKey[]>
  checkPassword?(account: Account, password: string): Promise<boolean>
  /** --inauth with passwords: the instance user's password in the instance's own /etc/shadow */
  checkInstancePassword?(target: Login, password: string): Promise<boolean>
}

export interface Identity {
  login: string
  target: Target
  /** the host account; absent when only the instance's own keys admitted the client */
  account?: Account
  via: string[]
  key?: AuthorizedKey
}

/** "publickey,password publickey" → [[publickey, password], [publickey]] */
export function parseAuthMethods(text: string): Method[][] {
  const chains = text
    .trim()
    .split(/\s+/)
    .map((alt) => alt.split(','))
  for (const m of chains.flat()) {
    if (m !== 'publickey' && m !== 'password')
      throw new LoginError(`unknown auth method '${m}' (known: publickey, password)`)
  }
  return chains as Method[][]
}

export const DEFAULT_KEY_FILES = ['%h/.ssh/authorized_keys', '/etc/ssh/authorized_keys.d/%u']

/** sshd's AuthorizedKeysFile tokens: %h home, %u user name, %U uid, %% a percent sign */
export function keyFilePaths(patterns: string[], a: Account): string[] {
  const tokens: Record<string, string> = { h: a.home, u: a.name, U: String(a.uid), '%': '%' }
  return patterns.map((p) => p.replace(/%([huU%])/g, (_, t: string) => tokens[t]!))
}

type Check =
  | { ok: true; identity: Omit<Identity, 'via'>; pkOk?: boolean }
  | { ok: false; reason: string; loud?: boolean }

/** The first entry for `blob` that policy lets this client use, or why none may be used. */
export function pickKey(
  keys: AuthorizedKey[],
  blob: Buffer,
  ip: string,
): { key?: AuthorizedKey; refused?: string } {
  let refused: string | undefined
  for (const k of findKeys(keys, blob)) {
    const why = keyRefusal(k, ip)
    if (!why) return { key: k }
    refused ??= `key ${k.origin}: ${why}`
  }
  return { refused }
}

export class ConnectionAuth {
  failures = 0
  /** set once the client is fully authenticated */
  identity?: Identity
  #user?: string
  readonly #passed = new Set<Method>()
  #identity?: Omit<Identity, 'via'>

  constructor(
    readonly opts: AuthOptions,
    readonly deps: AuthDeps,
    readonly ip: string,
  ) {}

  /** Decides one request; resolves with the identity once the client is fully authenticated. */
  async handle(ctx: AuthContext): Promise<Identity | undefined> {
    if (this.#user !== undefined && ctx.username !== this.#user) this.#passed.clear()
    this.#user = ctx.username
    const method = ctx.method as string
    if (
      this.opts.noauth &&
      (method === 'none' || method === 'publickey' || method === 'password')
    ) {
      let target: Target
      try {
        target = parseLogin(ctx.username)
      } catch (err) {
        this.failures++
        logger.debug(
          `noauth: ${JSON.stringify(ctx.username)} from ${this.ip}: ${(err as Error).message}`,
        )
        return void ctx.reject(['publickey'])
      }
      const account = lookupAccount(target.hostUser, this.opts.accountFiles)
      const refused = account && this.#accountRefusal(account)
      if (refused) {
        this.failures++
        this.#loud(refused)
        return void ctx.reject(['publickey'])
      }
      return this.#succeed(ctx, { login: ctx.username, target, account }, method as Method, true)
    }
    const left = this.#remaining()
    if (method === 'none' || !left.includes(method as Method)) return void ctx.reject(left)
    let res: Check
    try {
      res =
        method === 'publickey'
          ? await this.#publickey(ctx as PublicKeyAuthContext)
          : await this.#password(ctx)
    } catch (err) {
      res = { ok: false, reason: err instanceof Error ? err.message : String(err) }
    }
    if (!res.ok) {
      this.failures++
      const line = `auth ${method} for ${JSON.stringify(ctx.username)} from ${this.ip} refused: ${res.reason}`
      if (res.loud) this.#loud(line, res.reason)
      else logger.debug(line)
      return void ctx.reject(left)
    }
    // a public key query: PK_OK, the client signs next
    if (res.pkOk) return void ctx.accept()
    return this.#succeed(ctx, res.identity, method as Method)
  }

  #succeed(
    ctx: AuthContext,
    identity: Omit<Identity, 'via'>,
    method: Method,
    all = false,
  ): Identity | undefined {
    this.#passed.add(method)
    this.#identity = { ...this.#identity, ...identity }
    if (!all && !this.opts.chains.some((c) => c.every((m) => this.#passed.has(m)))) {
      ctx.reject(this.#remaining(), true)
      return undefined
    }
    // set before accept(): ssh2 emits `ready` from inside it
    this.identity = { ...this.#identity, via: [...this.#passed] }
    ctx.accept()
    return this.identity
  }

  /** methods that still complete some chain, given what already passed */
  #remaining(): Method[] {
    const out = new Set<Method>()
    for (const chain of this.opts.chains) {
      if ([...this.#passed].every((m) => chain.includes(m)))
        for (const m of chain) if (!this.#passed.has(m)) out.add(m)
    }
    return [...out]
  }

  /** one info line per reason per connection: a client retrying keys and methods logs it once */
  readonly #logged = new Set<string>()
  #loud(line: string, reason = line): void {
    if (this.#logged.has(reason)) return
    this.#logged.add(reason)
    logger.info(line)
  }

  #accountRefusal(a: Account): string | undefined {
    return accountRefusal(a.name, accountStatus(a.name, this.opts.accountFiles))
  }

  /** the login parsed and its host user allowed, or why not */
  #host(login: string): { target: Target; account?: Account; reason?: string; loud?: boolean } {
    let target: Target
    try {
      target = parseLogin(login)
    } catch (err) {
      throw new Error(`bad login: ${(err as Error).message}`)
    }
    const account = lookupAccount(target.hostUser, this.opts.accountFiles)
    if (!account) return { target, reason: `no host user '${target.hostUser}'` }
    if (!mayUseIncus(account, this.opts.allowedGids))
      return {
        target,
        reason: `host user '${account.name}' is not root and in none of the allowed groups`,
      }
    const refused = this.#accountRefusal(account)
    if (refused) return { target, reason: refused, loud: true }
    return { target, account }
  }

  async #publickey(ctx: PublicKeyAuthContext): Promise<Check> {
    const { target, account, reason, loud } = this.#host(ctx.username)
    let found = account ? pickKey(this.#hostKeys(account), ctx.key.data, this.ip) : {}
    let identity: Omit<Identity, 'via'> = { login: ctx.username, target, account, key: found.key }
    if (!found.key && this.#instanceAuth(target) && this.deps.instanceKeys) {
      found = pickKey(await this.deps.instanceKeys(target as Login), ctx.key.data, this.ip)
      identity = { login: ctx.username, target, key: found.key }
    }
    const key = found.key
    if (!key) {
      if (found.refused) return { ok: false, reason: found.refused, loud: true }
      if (reason) return { ok: false, reason, loud }
      const where = account ? this.#keyFiles(account).join(' or ') : 'any file'
      return { ok: false, reason: `key not in ${where}` }
    }
    if (!ctx.signature) return { ok: true, identity, pkOk: true }
    const bad = signatureRefusal(key, ctx)
    return bad ? { ok: false, reason: bad, loud: bad !== 'bad signature' } : { ok: true, identity }
  }

  /** --inauth applies to plain logins (no host commands); the instance's own files decide */
  #instanceAuth(target: Target): boolean {
    return this.opts.inauth && target.kind === 'login' && target.command === undefined
  }

  /** The host user's password; with --inauth, then the instance user's (the seed's order). */
  async #password(ctx: AuthContext): Promise<Check> {
    const { target, account, reason, loud } = this.#host(ctx.username)
    const password = (ctx as AuthContext & { password: string }).password
    if (account && this.deps.checkPassword && (await this.deps.checkPassword(account, password)))
      return { ok: true, identity: { login: ctx.username, target, account } }
    if (this.#instanceAuth(target) && this.deps.checkInstancePassword) {
      if (await this.deps.checkInstancePassword(target as Login, password))
        return { ok: true, identity: { login: ctx.username, target } }
    }
    if (reason) return { ok: false, reason, loud }
    return {
      ok: false,
      reason: this.deps.checkPassword ? 'wrong password' : 'password auth unavailable',
    }
  }

  #keyFiles(a: Account): string[] {
    return keyFilePaths(this.opts.keyFiles ?? DEFAULT_KEY_FILES, a)
  }

  #hostKeys(a: Account): AuthorizedKey[] {
    return this.#keyFiles(a).flatMap((path) => {
      let text: string
      try {
        text = readFileSync(path, 'utf8')
      } catch {
        return []
      }
      return parseAuthorizedKeys(text, path, (m) => logger.warn(m))
    })
  }
}

/** Why the signature of a publickey request does not count, or undefined when it does. */
function signatureRefusal(key: AuthorizedKey, ctx: PublicKeyAuthContext): string | undefined {
  // security keys: ssh2 cannot parse them; sk.ts checks the signature, policy.ts its flags
  if (isSkKeyType(key.type)) {
    if (ctx.key.algo !== key.type) return 'bad signature'
    const sk = verifySk(key.blob, ctx.signature!, ctx.blob!)
    return sk ? skSignatureRefusal(key, sk.flags) : 'bad signature'
  }
  const parsed = utils.parseKey(key.text)
  const pub = Array.isArray(parsed) ? parsed[0] : parsed
  if (!pub || pub instanceof Error) return `cannot parse ${key.origin}`
  return pub.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true ? undefined : 'bad signature'
}
