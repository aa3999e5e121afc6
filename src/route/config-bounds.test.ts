import { describe, expect, test } from 'bun:test'
import { parseCreateConfig } from '../serve/session/create-config'
import { parseConfig } from './config'
import { expandDests, nodesetSize } from './dest'

const envYaml = (n: number, dup = false) =>
  `dest: [a]\nenvironment:\n${Array.from({ length: n }, (_, i) => `  K${i}: v\n`).join('')}${dup ? '  K7: again\n' : ''}`

describe('bounded config', () => {
  test.each([
    ['n[0-10000][0-10000]', 100_020_001],
    ['n[1-4]', 4],
    ['n[1-3,7]:[22,2222]', 8],
    ['plain', 1],
  ])('nodeset %p counts %p names without expanding them', (text, n) => {
    expect(nodesetSize(text)).toBe(n)
  })

  test.each([
    [
      'dest: ["n[0-10000][0-10000]"]\n',
      "route.yaml:1:7: bad dest: 'n[0-10000][0-10000]' expands to 100,020,001 destinations, over the limit of 10,000 for a whole config",
    ],
    [
      'dest: ["a[1-6000]", "b[1-6000]"]\n',
      "'b[1-6000]' expands to 6,000 destinations, over the limit of 10,000",
    ],
    [
      'dest: [a]\ncheck_timeout: 99999999999\n',
      'route.yaml:2:16: check_timeout must be from 10ms to 10m, not 99999999999',
    ],
    ['dest: [a]\ncheck_timeout: 1ms\n', 'check_timeout must be from 10ms to 10m'],
    ['dest: [a]\ncheck_interval: 30d\n', 'check_interval must be from 0s to 1d'],
    ['dest: [a]\netcd: {keyttl: 100ms}\n', 'etcd.keyttl must be from 1s to 1d'],
    ['dest: [a]\nsticky_ttl: 400d\n', 'sticky_ttl must be from 0s to 366d'],
    ['dest: [a]\ndest: [b]\n', "route.yaml:2:1: Map keys must be unique ('dest' appears twice)"],
    [
      'dest: [a]\nssh: {exe: a, exe: b}\n',
      "route.yaml:2:15: Map keys must be unique ('exe' appears twice)",
    ],
    [
      'dest: [a]\noverrides:\n  - match: [{users: [a], users: [b]}]\n',
      "route.yaml:3:26: Map keys must be unique ('users' appears twice)",
    ],
  ])('rejects %p', (yaml, message) => {
    expect(() => parseConfig(yaml, 'route.yaml')).toThrow(message)
  })

  test('a nodeset at the limit still loads', () => {
    expect(expandDests(['n[1-10000]'])).toHaveLength(10_000)
  })

  test('40k keys load in linear time in route.yaml and in create-config.yaml', () => {
    let t = performance.now()
    expect(
      Object.keys(parseConfig(envYaml(40_000), 'route.yaml').top.environment as object),
    ).toHaveLength(40_000)
    const route = performance.now() - t
    expect(() => parseConfig(envYaml(40_000, true), 'route.yaml')).toThrow(
      `route.yaml:${40_003}:3: Map keys must be unique ('K7' appears twice)`,
    )
    const create = `defaults:\n  config:\n${Array.from({ length: 40_000 }, (_, i) => `    k${i}: v\n`).join('')}`
    t = performance.now()
    expect(Object.keys(parseCreateConfig(create, 'c.yaml').defaults.config)).toHaveLength(40_000)
    const serve = performance.now() - t
    expect(() => parseCreateConfig(`${create}    k7: again\n`, 'c.yaml')).toThrow(
      "c.yaml:40003:5: Map keys must be unique ('k7' appears twice)",
    )
    // yaml's quadratic uniqueKeys check took 78 s for this on the test machine; the test's own
    // 30 s timeout is what fails if it comes back
    console.error(
      `40k keys: route.yaml ${route.toFixed(0)} ms, create-config.yaml ${serve.toFixed(0)} ms`,
    )
  }, 30_000)
})
