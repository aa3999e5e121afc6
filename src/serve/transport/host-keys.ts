/**
 * Host keys for `burrow serve`: the host's own sshd keys when this process may read them (clients
 * then see the same identity as on port 22), else one ed25519 key generated once and kept in
 * burrow's state directory. Never a fresh key per start: ssh2incus did that in daemon mode and
 * had none at all in worker mode (its issue #9, "kex_exchange_identification: reset").
 */
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { utils } from 'ssh2'
import { fail } from '../../core/errors'
import { logger } from '../../core/log'
import { generateEd25519 } from './keygen'

export const SYSTEM_HOST_KEYS = ['ed25519', 'ecdsa', 'rsa'].map((t) => `/etc/ssh/ssh_host_${t}_key`)
const OWN_KEY = 'ssh_host_ed25519_key'

export interface HostKey {
  path: string
  pem: Buffer
  /** e.g. ssh-ed25519 */
  type: string
}

/** burrow's state directory: $BURROW_STATE_DIR, /var/lib/burrow for root, else XDG's state home. */
export function stateDir(): string {
  if (process.env.BURROW_STATE_DIR) return process.env.BURROW_STATE_DIR
  if (process.getuid?.() === 0) return '/var/lib/burrow'
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'burrow')
}

/**
 * `explicit` (from --host-key) must all load; otherwise the readable system keys, otherwise the
 * state directory's own key, created on first use.
 */
export function loadHostKeys(
  explicit: string[],
  dir = join(stateDir(), 'serve'),
  systemKeys = SYSTEM_HOST_KEYS,
): HostKey[] {
  if (explicit.length) return explicit.map((p) => readKey(p, true)!)
  const system = systemKeys.map((p) => readKey(p, false)).filter((k): k is HostKey => !!k)
  if (system.length) return system
  return [ownKey(dir)]
}

function readKey(path: string, required: boolean): HostKey | undefined {
  let pem: Buffer
  try {
    pem = readFileSync(path)
  } catch (err) {
    if (required) fail(`read host key ${path}`, (err as Error).message)
    logger.debug(`host key ${path}: ${(err as Error).message}`)
    return undefined
  }
  const parsed = utils.parseKey(pem)
  const key = Array.isArray(parsed) ? parsed[0] : parsed
  if (!key || key instanceof Error || !key.isPrivateKey()) {
    const reason = key instanceof Error ? key.message : 'not a private key'
    if (required)
      fail(
        `load host key ${path}`,
        `${reason} (expected an unencrypted OpenSSH or PEM private key)`,
      )
    logger.debug(`host key ${path}: ${reason}`)
    return undefined
  }
  return { path, pem, type: key.type }
}

function ownKey(dir: string): HostKey {
  const path = join(dir, OWN_KEY)
  const existing = readKey(path, false)
  if (existing) return existing
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const { private: pem, public: pub } = generateEd25519('burrow serve')
    // write aside, then link into place: link fails if another `serve` won the race, and then
    // its key is the one every process uses
    const tmp = `${path}.${process.pid}.tmp`
    writeFileSync(tmp, pem, { mode: 0o600 })
    chmodSync(tmp, 0o600)
    try {
      linkSync(tmp, path)
      writeFileSync(`${path}.pub`, `${pub}\n`, { mode: 0o644 })
      logger.info(`Generated host key ${path}`)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    } finally {
      rmSync(tmp, { force: true })
    }
  } catch (err) {
    fail(
      `create host key ${path}`,
      `${(err as Error).message} (use --host-key or BURROW_STATE_DIR)`,
    )
  }
  return readKey(path, true)!
}
