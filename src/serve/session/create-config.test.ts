import { describe, expect, test } from 'bun:test'
import { parseCreateConfig } from './create-config'
import { instanceBody } from './create'
import { parseLogin } from '../auth/login'
import type { CreateLogin } from '../auth/login'

const SEED = `version: "1.0"
defaults:
  image: alpine/edge
  ephemeral: false
  memory: 1
  cpu: 1
  disk: 10
  vm: false
  devices:
    data: { type: disk, source: /srv, path: /srv }
  config:
    security.privileged: false
    security.nesting: "false"
profiles:
  web:
    image: ubuntu/22.04/cloud
    memory: 2
`

describe('create-config.yaml', () => {
  test("ssh2incus' sample format loads; values become Incus strings", () => {
    const c = parseCreateConfig(SEED, 'c.yaml')
    expect(c.version).toBe('1.0')
    expect(c.defaults).toEqual({
      image: 'alpine/edge',
      ephemeral: false,
      memory: 1,
      cpu: 1,
      disk: 10,
      vm: false,
      devices: { data: { type: 'disk', source: '/srv', path: '/srv' } },
      config: { 'security.privileged': 'false', 'security.nesting': 'false' },
    })
  })

  test('an empty file is the built-in defaults', () => {
    expect(parseCreateConfig('', 'c.yaml').defaults).toMatchObject({ memory: 0, vm: false })
  })

  test.each([
    [
      'defaults:\n  memroy: 2\n',
      "c.yaml:2:3: unknown key 'memroy' in defaults (did you mean 'memory'?)",
    ],
    ['defaults:\n  memory: lots\n', 'c.yaml:2:11: defaults.memory must be a whole number ≥ 0'],
    ['defaults:\n  vm: 1\n', 'c.yaml:2:7: defaults.vm must be true or false'],
    ['defaults:\n  config: [a]\n', 'c.yaml:2:11: defaults.config must be a map'],
    ['defaults:\n  devices:\n    d: { path: /x }\n', 'c.yaml:3:8: defaults.devices.d needs a type'],
    ['image: x/y\n', "c.yaml:1:1: unknown key 'image' in the config"],
    ['defaults: {\n', 'c.yaml:'],
    ['profiles:\n  web:\n    cpus: 2\n', "c.yaml:3:5: unknown key 'cpus' in profiles.web"],
  ])('%p is refused with file:line', (text, want) => {
    expect(() => parseCreateConfig(text, 'c.yaml')).toThrow(`Failed to load ${want}`)
  })
})

describe('instanceBody', () => {
  const d = parseCreateConfig(SEED, 'c.yaml').defaults
  const login = (s: string) => parseLogin(s) as CreateLogin

  test('defaults apply, login options win', () => {
    const b = instanceBody(login('~box+m4+d0+burrow/debian+p'), d, {
      type: 'disk',
      path: '/',
      pool: 'default',
    })
    expect(b).toMatchObject({
      name: 'box',
      type: 'container',
      ephemeral: true,
      source: { type: 'image', alias: 'burrow/debian' },
      config: { 'limits.memory': '4GiB', 'limits.cpu': '1', 'security.privileged': 'true' },
    })
    // d0 = unlimited: no root disk override at all
    expect(b.devices.root).toBeUndefined()
    expect(b.devices.data).toEqual({ type: 'disk', source: '/srv', path: '/srv' })
  })

  test('disk size goes on the profile root disk; vm drops container-only settings', () => {
    const b = instanceBody(login('+box+v+n+d5'), d, { type: 'disk', path: '/', pool: 'p' })
    expect(b.type).toBe('virtual-machine')
    expect(b.devices.root).toEqual({ type: 'disk', path: '/', pool: 'p', size: '5GiB' })
    expect(b.config['security.nesting']).toBe('false')
  })

  test('no image anywhere is a clear error', () => {
    expect(() => instanceBody(login('+box'), { ...d, image: undefined })).toThrow(
      'no image given; add one to the login (+box+debian/12)',
    )
  })
})
