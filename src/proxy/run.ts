/** `burrow proxy`: HOST → Address → connected socket → handed to ssh, or relayed over stdio. */
import { fail } from '../core/errors'
import * as libc from '../core/ffi/libc'
import { logger } from '../core/log'
import { backendOf, formatAddress, openAddress, parseAddress, resolveAddress } from './registry'
import { handOverToKeeper, KEEPER_ENV } from './keeper'
import { relay } from '../core/relay'
import { handOver, stdioWantsFd } from '../core/socket'

export interface ProxyOptions {
  host: string
  port: string
  typed?: string
  resolve?: boolean
  pump?: boolean
  wait?: string
}

/**
 * OpenSSH lowercases %h for names without `%` or `:` (ssh.c), which breaks `unix/tmp/AbC`.
 * The installed config also passes %n, the name as typed: use it when it is the same name.
 */
export function pickHost(host: string, typed?: string): string {
  // ssh folds with C tolower(): ASCII only, so 'É' stays 'É'
  const folded = typed?.replace(/[A-Z]+/g, (s) => s.toLowerCase())
  return typed !== undefined && folded === host ? typed : host
}

function parseWait(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || Number(text) <= 0) {
    fail(`parse -w '${text}'`, 'expected a positive number of seconds')
  }
  return Number(text) * 1000
}

export async function runProxy(opts: ProxyOptions): Promise<number> {
  const host = pickHost(opts.host, opts.typed)
  const waitMs = parseWait(opts.wait)
  const addr = parseAddress(host, opts.port)
  if (opts.resolve) {
    libc.writeAll(1, `${formatAddress(await resolveAddress(addr))}\n`)
    return 0
  }
  if (!opts.pump && backendOf(addr).relayOnly && stdioWantsFd()) {
    handOverToKeeper(host, opts.port, opts.wait)
    return 0
  }
  if (!process.env[KEEPER_ENV]) libc.dieWithParent()
  const stream = await openAddress(addr, { timeoutMs: waitMs })
  try {
    if (!opts.pump && !stream.relayOnly && stdioWantsFd()) {
      handOver(stream.fd)
      logger.debug(`passed the socket for ${host} to ssh`)
      return 0
    }
    logger.debug(`connected to ${host}, relaying stdin/stdout`)
    // ssh sends SIGHUP to its ProxyCommand when it exits (and closes the pipes): a stream that
    // must remove something when it ends (an Incus device) outlives the signal until the relay
    // sees the pipes close, instead of dying with the thing left behind
    if (stream.relayOnly)
      for (const sig of ['SIGHUP', 'SIGTERM', 'SIGINT'] as const) process.on(sig, () => {})
    const end = relay(stream.fd, { idleMs: waitMs })
    logger.debug(`relay ended: ${end}`)
    return 0
  } finally {
    await stream.close()
  }
}
