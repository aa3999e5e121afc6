/**
 * `create-config.yaml`: the defaults for instances created by `+name` / `~name` logins, in
 * ssh2incus' format (version, defaults: image, ephemeral, memory, cpu, disk, vm, devices, config;
 * profiles). Validated strictly with file:line in every complaint: ssh2incus ignored typos and
 * crashed on a missing file.
 */
import { readFileSync } from 'node:fs'
import type { Node as YamlNode } from 'yaml'
import { isMap, isScalar } from 'yaml'
import { loadYaml } from '../../core/yaml'
import { fail } from '../../core/errors'
import type { Spec, Where } from '../../core/schema'
import { bad, check, checkObject, uniqueKey } from '../../core/schema'

export interface CreateDefaults {
  image?: string
  ephemeral: boolean
  /** GiB; 0 = no limit */
  memory: number
  cpu: number
  disk: number
  vm: boolean
  devices: Record<string, Record<string, string>>
  config: Record<string, string>
}

export interface CreateConfig {
  /** the file it came from, or '' for the built-in defaults */
  file: string
  version?: string
  defaults: CreateDefaults
}

export const CONFIG_PATHS = ['/etc/burrow/create-config.yaml', './create-config.yaml']

const BUILT_IN: CreateDefaults = {
  ephemeral: false,
  memory: 0,
  cpu: 0,
  disk: 0,
  vm: false,
  devices: {},
  config: {},
}

const DEFAULT_KEYS: Record<string, Spec> = {
  image: { t: 'string' },
  ephemeral: { t: 'bool' },
  memory: { t: 'int' },
  cpu: { t: 'int' },
  disk: { t: 'int' },
  vm: { t: 'bool' },
  // checked below: Incus wants strings, but YAML writers put `false` and `2` unquoted
  devices: { t: 'any' },
  config: { t: 'any' },
}

/** `--create-config PATH`, else the first of CONFIG_PATHS that exists, else built-in defaults. */
export function loadCreateConfig(path?: string): CreateConfig {
  const candidates = path ? [path] : CONFIG_PATHS
  for (const file of candidates) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === 'ENOENT' && !path) continue
      return fail(`read ${file}`, code === 'ENOENT' ? 'no such file' : (err as Error).message)
    }
    return parseCreateConfig(text, file)
  }
  return { file: '', defaults: { ...BUILT_IN } }
}

export function parseCreateConfig(text: string, file: string): CreateConfig {
  const { root, where } = loadYaml(text, file)
  if (root === null) return { file, defaults: { ...BUILT_IN } }
  const top = checkObject(
    where,
    root,
    {
      version: { t: 'string' },
      defaults: { t: 'any' },
      // ssh2incus v0.8+ selects these with `%name` tokens; the v0.7 grammar burrow follows has
      // none, so they are checked (a copied file must load) but not used
      profiles: { t: 'any' },
    },
    'the config',
  )
  const rootMap = root as YamlNode & { get(k: string, keep: true): YamlNode | undefined }
  const defaults = section(where, rootMap.get('defaults', true), 'defaults')
  const profiles = rootMap.get('profiles', true)
  if (profiles !== undefined) {
    if (!isMap(profiles)) bad(where, profiles, 'profiles must be a map of names to defaults')
    const seen = new Set<string>()
    for (const pair of profiles.items) {
      uniqueKey(
        where,
        seen,
        String((pair.key as YamlNode & { value?: unknown }).value),
        pair.key as YamlNode,
      )
      section(
        where,
        pair.value as YamlNode,
        `profiles.${String((pair.key as YamlNode & { value?: unknown }).value)}`,
      )
    }
  }
  return { file, version: top.version as string | undefined, defaults }
}

function section(where: Where, node: YamlNode | undefined, what: string): CreateDefaults {
  if (node === undefined || (isScalar(node) && node.value === null)) return { ...BUILT_IN }
  const v = checkObject(where, node, DEFAULT_KEYS, what)
  const get = (k: string) =>
    (node as YamlNode & { get(k: string, keep: true): YamlNode }).get(k, true)
  const out: CreateDefaults = { ...BUILT_IN, ...(v as Partial<CreateDefaults>) }
  if (out.image !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_./:-]{0,127}$/.test(out.image))
    bad(where, get('image'), `${what}.image '${out.image}' is not an image alias such as debian/12`)
  out.config = get('config') === undefined ? {} : strings(where, get('config'), `${what}.config`)
  out.devices = {}
  if (get('devices') !== undefined) {
    const devs = get('devices')
    const names = check(where, devs, { t: 'mapOf', value: { t: 'any' } }, `${what}.devices`)
    for (const name of Object.keys(names as object)) {
      const dev = (devs as YamlNode & { get(k: string, keep: true): YamlNode }).get(name, true)
      out.devices[name] = strings(where, dev, `${what}.devices.${name}`)
      if (!out.devices[name]!.type)
        bad(where, dev, `${what}.devices.${name} needs a type (disk, nic, proxy, …)`)
    }
  }
  return out
}

/** A map whose values become strings, as Incus config and devices take them. */
function strings(where: Where, node: YamlNode | undefined, what: string): Record<string, string> {
  if (!isMap(node)) bad(where, node, `${what} must be a map of keys to values`)
  const out: Record<string, string> = Object.create(null)
  const seen = new Set<string>()
  for (const pair of node.items) {
    const key = check(where, pair.key as YamlNode, { t: 'string' }, `a key of ${what}`) as string
    uniqueKey(where, seen, key, pair.key as YamlNode)
    const val = pair.value as YamlNode | null
    if (!isScalar(val) || val.value === null || typeof val.value === 'object')
      bad(
        where,
        val ?? (pair.key as YamlNode),
        `${what}.${key} must be a string, number or true/false`,
      )
    out[key] = String(val.value)
  }
  return out
}
