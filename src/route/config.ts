/**
 * route.yaml: the keys, their defaults, and the effective config for one session (top level,
 * then every matching override in order). Loading is strict: unknown keys, unknown match
 * conditions and wrong types are errors naming file:line:column.
 */
import { readFileSync } from 'node:fs'
import type { Node as YamlNode } from 'yaml'
import { isMap, isSeq } from 'yaml'
import { loadYaml } from '../core/yaml'
import { fail } from '../core/errors'
import type { Dest } from './dest'
import { expandDests } from './dest'
import { type Condition, type Identity, matches } from './match'

export type { Condition, Identity } from './match'
import { DEFAULT_SOCKET } from './state/protocol'
import type { Spec, Where } from '../core/schema'
import { at, bad, checkObject } from '../core/schema'

export { DEFAULT_CONFIG_PATH } from './paths'

export interface Translation {
  ssh_args: string[]
  command: string
  disable_dump: boolean
}

export interface Config {
  debug: boolean
  /** audit log file (`{user}` allowed); one line per session start and end; '' = none */
  log: string
  service: string
  dest: string[]
  route_select: 'ordered' | 'random' | 'connections' | 'bandwidth'
  mode: 'sticky' | 'balanced'
  /** keep user@service → dest for this long (ms) after the last session ends; 0 = only while live */
  sticky_ttl: number
  check_interval: number
  check_timeout: number
  error_banner: string
  max_connections_per_user: number
  force_command: string
  command_must_match: boolean
  blocking_command: string[]
  bg_command: string[]
  environment: Record<string, string>
  ssh: { exe: string; args: string[] }
  translate_commands: Record<string, Translation>
  dump: string
  state: {
    /** the embedded store (read and written by the state service, or by the session when access is direct) */
    path: string
    /** the state service's socket */
    socket: string
    /** service: through the state service (default); direct: the session opens the store itself
     * (single-user gateways); none: no shared state (every host probed, no sticky, no counting) */
    access: 'service' | 'direct' | 'none'
    /** members of this group may change the routing state through the service (besides root) */
    admin_group: string
  }
  etcd: {
    endpoints: string[]
    tls: { cafile: string; certfile: string; keyfile: string }
    username: string
    password: string
    /** a file holding the password, readable only by the state service (root) */
    password_file: string
    keyttl: number
    mandatory: boolean
    prefix: string
  }
}

export const SELECTS = ['ordered', 'random', 'connections', 'bandwidth'] as const
export const MODES = ['sticky', 'balanced'] as const
export const ACCESS = ['service', 'direct', 'none'] as const

const keys: Record<string, Spec> = {
  debug: { t: 'bool' },
  log: { t: 'string' },
  service: { t: 'string' },
  dest: { t: 'list' },
  route_select: { t: 'enum', values: SELECTS },
  mode: { t: 'enum', values: MODES },
  sticky_ttl: { t: 'duration', max: 366 * 86_400_000 },
  check_interval: { t: 'duration', max: 86_400_000 },
  check_timeout: { t: 'duration', min: 10, max: 600_000 },
  error_banner: { t: 'string' },
  max_connections_per_user: { t: 'int' },
  force_command: { t: 'string' },
  command_must_match: { t: 'bool' },
  blocking_command: { t: 'list', words: true },
  bg_command: { t: 'list', words: true },
  environment: { t: 'strmap' },
  ssh: { t: 'object', keys: { exe: { t: 'string' }, args: { t: 'list' } } },
  translate_commands: {
    t: 'mapOf',
    value: {
      t: 'object',
      keys: { ssh_args: { t: 'list' }, command: { t: 'string' }, disable_dump: { t: 'bool' } },
    },
  },
  dump: { t: 'string' },
  state: {
    t: 'object',
    keys: {
      path: { t: 'string' },
      socket: { t: 'string' },
      access: { t: 'enum', values: ACCESS },
      admin_group: { t: 'string' },
    },
  },
  etcd: {
    t: 'object',
    keys: {
      endpoints: { t: 'list' },
      tls: {
        t: 'object',
        keys: { cafile: { t: 'string' }, certfile: { t: 'string' }, keyfile: { t: 'string' } },
      },
      username: { t: 'string' },
      password: { t: 'string' },
      password_file: { t: 'string' },
      keyttl: { t: 'duration', min: 1000, max: 86_400_000 },
      mandatory: { t: 'bool' },
      prefix: { t: 'string' },
    },
  },
}

const conditionKeys: Record<string, Spec> = {
  users: { t: 'list' },
  groups: { t: 'list' },
  sources: { t: 'list' },
}

export function defaults(): Config {
  return {
    debug: false,
    log: '',
    service: 'default',
    dest: [],
    route_select: 'ordered',
    mode: 'sticky',
    sticky_ttl: 0,
    check_interval: 0,
    check_timeout: 2000,
    error_banner: '',
    max_connections_per_user: 0,
    force_command: '',
    command_must_match: false,
    blocking_command: [],
    bg_command: [],
    environment: {},
    ssh: { exe: 'ssh', args: ['-q'] },
    translate_commands: {},
    dump: '',
    state: {
      path: '/var/lib/burrow/route.db',
      socket: DEFAULT_SOCKET,
      access: 'service',
      admin_group: '',
    },
    etcd: {
      endpoints: [],
      tls: { cafile: '', certfile: '', keyfile: '' },
      username: '',
      password: '',
      password_file: '',
      keyttl: 5000,
      mandatory: false,
      prefix: '/burrow/',
    },
  }
}

export type Partial_ = Record<string, unknown>
export interface Override {
  match: Condition[]
  set: Partial_
  /** file:line of the override, for `ctl show config` */
  where: string
}

export interface LoadedConfig {
  file: string
  top: Partial_
  overrides: Override[]
}

/** Who is connecting, for override matching. `source` is the gateway sshd's own host:port. */
export function loadConfig(file: string): LoadedConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as { code?: string }).code
    fail(
      `read ${file}`,
      code === 'ENOENT' ? 'no such file (pass --config FILE)' : String((err as Error).message),
    )
  }
  return parseConfig(text, file)
}

export function parseConfig(text: string, file: string): LoadedConfig {
  const { root, where } = loadYaml(text, file)
  if (root === null) fail(`load ${file}`, 'the file is empty; it needs at least `dest:`')
  if (!isMap(root)) bad(where, root, 'the config must be a map of keys to values')
  const overrides: Override[] = []
  const topKeys = { ...keys, overrides: { t: 'any' } as Spec }
  const top = checkObject(where, root, topKeys, 'the config')
  delete top.overrides
  const list = root.get('overrides', true) as YamlNode | undefined
  if (list !== undefined) {
    if (!isSeq(list)) bad(where, list, 'overrides must be a list of {match: [...], key: value, …}')
    for (const item of list.items as YamlNode[]) overrides.push(parseOverride(where, item))
  }
  validate(where, root, top)
  for (const o of overrides) validate(where, null, o.set, o.where)
  return { file, top, overrides }
}

function parseOverride(where: Where, node: YamlNode): Override {
  if (!isMap(node))
    bad(where, node, 'each override must be a map with `match:` and the keys it sets')
  const matchNode = node.get('match', true) as YamlNode | undefined
  if (matchNode === undefined)
    bad(where, node, 'this override has no `match:` (a list of {users, groups, sources})')
  if (!isSeq(matchNode) || matchNode.items.length === 0)
    bad(where, matchNode, 'match must be a non-empty list of conditions')
  const match = (matchNode.items as YamlNode[]).map((c) => {
    const cond = checkObject(where, c, conditionKeys, 'a match condition') as Condition
    if (Object.keys(cond).length === 0)
      bad(where, c, 'an empty match condition would match everyone; remove the override instead')
    return cond
  })
  const set = checkObject(where, node, { ...keys, match: { t: 'any' } }, 'an override')
  delete set.match
  return { match, set, where: at(where, node) }
}

/** Checks that need the value, not just its type: dest syntax, service names. */
function validate(where: Where, root: YamlNode | null, set: Partial_, label?: string): void {
  const node = (key: string) => (root && isMap(root) ? (root.get(key, true) as YamlNode) : null)
  const ctx = (key: string) => (label ? `${label} (${key})` : at(where, node(key)))
  if (set.dest !== undefined) {
    try {
      expandDests(set.dest as string[])
    } catch (err) {
      fail(`load ${ctx('dest')}`, `bad dest: ${(err as Error).message}`)
    }
  }
  if (set.service !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(set.service as string)) {
    fail(
      `load ${ctx('service')}`,
      `service '${set.service}' may only use letters, digits, '.', '_' and '-'`,
    )
  }
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Scalars and lists replace; environment and translate_commands merge by key; ssh/etcd/state sub-keys replace one by one. */
export function merge(base: Config, set: Partial_): Config {
  const out = structuredClone(base) as unknown as Obj
  for (const [key, value] of Object.entries(set)) {
    if (key === 'environment' || key === 'translate_commands') {
      out[key] = { ...(out[key] as Obj), ...(value as Obj) }
    } else if (isObj(value) && isObj(out[key])) {
      out[key] = mergeObj(out[key] as Obj, value)
    } else out[key] = value
  }
  const cfg = out as unknown as Config
  for (const t of Object.values(cfg.translate_commands)) {
    t.ssh_args ??= []
    t.disable_dump ??= false
    if (t.command === undefined) t.command = ''
  }
  return cfg
}

function mergeObj(a: Obj, b: Obj): Obj {
  const out = { ...a }
  for (const [k, v] of Object.entries(b))
    out[k] = isObj(v) && isObj(a[k]) ? mergeObj(a[k] as Obj, v) : v
  return out
}

export interface Effective {
  config: Config
  dests: Dest[]
  /** where each applied override sits, for `ctl show config` */
  applied: string[]
}

export function effectiveConfig(loaded: LoadedConfig, who: Identity): Effective {
  let config = merge(defaults(), loaded.top)
  const applied: string[] = []
  for (const o of loaded.overrides) {
    if (o.match.some((c) => matches(c, who))) {
      config = merge(config, o.set)
      applied.push(o.where)
    }
  }
  for (const [name, t] of Object.entries(config.translate_commands)) {
    if (t.command === '')
      fail(`load ${loaded.file}`, `translate_commands['${name}'] needs a command`)
  }
  return { config, dests: expandDests(config.dest), applied }
}

/** Every destination any override could route to, for `route check` and `ctl show hosts`. */
export function allDests(loaded: LoadedConfig): Dest[] {
  const lists = [loaded.top.dest, ...loaded.overrides.map((o) => o.set.dest)].filter(
    Boolean,
  ) as string[][]
  return expandDests(lists.flat())
}
