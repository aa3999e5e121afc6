import { describe, expect, test } from 'bun:test'
import { effectiveConfig, type Identity, parseConfig } from './config'

const who = (
  user: string,
  groups: string[] = [],
  source = { ip: '192.0.2.1', port: 22 },
): Identity => ({ user, groups: () => groups, source })

const YAML = `
service: interactive
dest: ["login[1-2]"]
environment: {SITE: main, OWNER: "{user}"}
ssh: {args: [-q, -Y]}
overrides:
  - match: [{users: [alice]}, {groups: [gpu]}]
    dest: [gpu1]
    environment: {SITE: gpu}
  - match: [{sources: ["192.0.2.1:2022"]}]
    service: sftp-only
    force_command: internal-sftp
  - match: [{users: [bob], sources: [":2022"]}]
    ssh: {exe: /opt/ssh}
`

describe('route.yaml', () => {
  const loaded = parseConfig(YAML, 'route.yaml')

  test('top-level keys apply to everyone, with defaults for the rest', () => {
    const e = effectiveConfig(loaded, who('carol'))
    expect(e.config).toMatchObject({
      service: 'interactive',
      route_select: 'ordered',
      mode: 'sticky',
      check_timeout: 2000,
    })
    expect(e.dests.map((d) => d.id)).toEqual(['login1:22', 'login2:22'])
    expect(e.applied).toEqual([])
  })

  test('a match list is OR, keys inside one condition are AND; later overrides win and maps merge', () => {
    expect(effectiveConfig(loaded, who('alice')).config.environment).toEqual({
      SITE: 'gpu',
      OWNER: '{user}',
    })
    expect(effectiveConfig(loaded, who('dave', ['gpu'])).dests.map((d) => d.id)).toEqual([
      'gpu1:22',
    ])
    const sftp = effectiveConfig(loaded, who('bob', [], { ip: '192.0.2.1', port: 2022 }))
    expect(sftp.config).toMatchObject({
      service: 'sftp-only',
      force_command: 'internal-sftp',
      ssh: { exe: '/opt/ssh', args: ['-q', '-Y'] },
    })
    expect(sftp.applied).toEqual(['route.yaml:10:5', 'route.yaml:13:5'])
    expect(effectiveConfig(loaded, who('bob')).config.ssh.exe).toBe('ssh')
  })

  test.each([
    [
      'dest: [a]\nmode: stiky\n',
      "route.yaml:2:7: mode must be one of sticky, balanced, not 'stiky' (did you mean 'sticky'?)",
    ],
    [
      'dest: [a]\nssh: {exe: ssh, argz: []}\n',
      "route.yaml:2:17: unknown key 'argz' in ssh (did you mean 'args'?)",
    ],
    ['dest: a\n', 'route.yaml:1:7: dest must be a list of strings'],
    [
      'dest: [a]\nmax_connections_per_user: -1\n',
      'route.yaml:2:27: max_connections_per_user must be a whole number ≥ 0, not -1',
    ],
    [
      'dest: [a]\ncommand_must_match: yes\n',
      'route.yaml:2:21: command_must_match must be true or false, not "yes"',
    ],
    ['dest: [a]\noverrides:\n  - service: x\n', 'route.yaml:3:5: this override has no `match:`'],
    [
      'dest: [a]\noverrides:\n  - match: [{}]\n',
      'route.yaml:3:13: an empty match condition would match everyone',
    ],
    [
      'dest: [a]\noverrides:\n  - match: [{users: [a]}]\n    overrides: []\n',
      "route.yaml:4:5: unknown key 'overrides' in an override",
    ],
    ['dest: [a]\nservice: "a/b"\n', "route.yaml:2:10: service 'a/b' may only use letters"],
    ['dest: [a]\netcd: {keyttl: forever}\n', 'route.yaml:2:16: etcd.keyttl must be a duration'],
    ['dest: [a\n', 'route.yaml:'],
    ['', 'the file is empty'],
  ])('rejects %p', (yaml, message) => {
    expect(() => parseConfig(yaml, 'route.yaml')).toThrow(message)
  })
})
