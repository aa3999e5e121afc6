/**
 * `burrow serve` from its command-line arguments to a running server, until SIGINT or SIGTERM.
 */
import { readFileSync } from 'node:fs'
import { fail } from '../core/errors'
import { logger } from '../core/log'
import type { Method } from './auth'
import { parseAuthMethods } from './auth'
import type { ShellMode } from './command'
import { SHELL_MODES } from './command'
import { parseDuration, parsePenalty, parseStartups } from './limits'
import { LoginError } from './login'
import type { ServeOptions } from './server'
import { startServe } from './server'

export interface ServeArgs {
  listen: string
  'host-key'?: string
  'authorized-keys'?: string
  groups: string
  'auth-methods'?: string
  'password-auth'?: boolean
  inauth?: boolean
  'permit-user-environment'?: boolean
  noauth?: boolean
  shell: string
  banner?: string
  welcome?: string
  'accept-env'?: string
  'login-grace-time': string
  'max-startups': string
  'max-auth-tries': string
  'max-auth-failures': string
  socket?: string
  url?: string
  'client-cert'?: string
  'client-key'?: string
  'server-cert'?: string
  remote?: string
  'allow-create'?: boolean
  'create-config'?: string
  'term-mux'?: string
  master?: boolean
  healthcheck?: string
}

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
    (await import('./shadow')).checkPassword(account.name, password)
}

export async function runServe(args: ServeArgs): Promise<number> {
  const { WORKER_ENV, runWorker } = await import('./worker')
  const workerArgs = process.env[WORKER_ENV]
  if (workerArgs) return runWorker(JSON.parse(workerArgs) as ServeArgs)
  const { extraOptions } = await import('./run-extra')
  const opts = { ...serveOptions(args), ...extraOptions(args, { healthcheck: !args.master }) }
  if (opts.noauth) {
    logger.warn(
      '*** --noauth: NO AUTHENTICATION. Anyone who can reach this port gets a shell in every instance. ***',
    )
    logger.warn('*** Use it only for development, on a loopback address. ***')
  }
  if (args.master) return (await import('./master')).runMaster(args, opts)
  const server = await startServe(opts)
  const { address, port } = server.address
  logger.info(
    `burrow serve listening on ${address.includes(':') ? `[${address}]` : address}:${port}`,
  )
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  logger.info(`burrow serve stopping (${signal})`)
  opts.health?.stop()
  await server.close()
  return 0
}
