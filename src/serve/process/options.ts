/**
 * `burrow serve`'s command-line arguments checked and turned into ServeOptions (run.ts starts the
 * server from them; a --master worker builds its own from the same arguments).
 */
import { readFileSync } from 'node:fs'
import { fail } from '../../core/errors'
import type { Method } from '../auth/auth'
import { parseAuthMethods } from '../auth/auth'
import type { ShellMode } from '../session/command'
import { SHELL_MODES } from '../session/command'
import { parseDuration, parsePenalty, parseStartups } from './limits'
import type { LoginError } from '../auth/login'
import type { ServeOptions } from './server'
import type { ServeArgs } from './args'

const list = (s: string | undefined) =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)

/** TEXT, or the content of FILE for @FILE */
function textArg(value: string | undefined, flag: string): string | undefined {
  if (!value?.startsWith('@')) return value
  try {
    return readFileSync(value.slice(1), 'utf8')
  } catch (err) {
    return fail(`read ${flag} file ${value.slice(1)}`, (err as Error).message)
  }
}

export function serveOptions(a: ServeArgs): ServeOptions {
  if (!SHELL_MODES.includes(a.shell as ShellMode))
    fail(`use --shell '${a.shell}'`, `expected one of ${SHELL_MODES.join(', ')}`)
  let chains: Method[][]
  try {
    chains = a['auth-methods']
      ? parseAuthMethods(a['auth-methods'])
      : a['password-auth']
        ? [['publickey'], ['password']]
        : [['publickey']]
  } catch (err) {
    return fail('parse --auth-methods', (err as LoginError).message)
  }
  const usesPassword = chains.flat().includes('password')
  const tries = Number(a['max-auth-tries'])
  if (!Number.isInteger(tries) || tries < 1)
    fail(`parse --max-auth-tries '${a['max-auth-tries']}'`, 'expected a whole number >= 1')
  return {
    listen: a.listen,
    hostKeys: list(a['host-key']),
    keyFiles: a['authorized-keys'] ? list(a['authorized-keys']) : undefined,
    groups: list(a.groups),
    chains,
    noauth: !!a.noauth,
    inauth: !!a.inauth,
    permitUserEnvironment: !!a['permit-user-environment'],
    shell: a.shell as ShellMode,
    banner: textArg(a.banner, '--banner'),
    welcome: textArg(a.welcome, '--welcome'),
    acceptEnv: list(a['accept-env']),
    loginGraceMs: parseDuration(a['login-grace-time'], '--login-grace-time'),
    maxStartups: parseStartups(a['max-startups']),
    penalty: parsePenalty(a['max-auth-failures']),
    maxAuthTries: tries,
    endpoint: {
      socket: a.socket,
      url: a.url,
      clientCert: a['client-cert'],
      clientKey: a['client-key'],
      serverCert: a['server-cert'],
    },
    checkPassword: usesPassword ? passwordChecker() : undefined,
    instancePasswords: usesPassword && !!a.inauth,
  }
}

function passwordChecker(): ServeOptions['checkPassword'] {
  return async (account, password) =>
    (await import('../auth/shadow')).checkPassword(account.name, password)
}
