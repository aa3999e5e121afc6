/**
 * `burrow route check | ctl … | replay | connect`: the command definitions. Each run() only
 * parses and hands over to the module doing the work, imported when it is needed.
 */
import type { ArgDef, CommandDef } from 'citty'
import { defineCommand } from 'citty'
import { debugArgs, variadic } from '../core/args'
import { DEFAULT_CONFIG_PATH } from './paths'

/** The route.yaml to use; every route subcommand takes it. */
export const configArgs = {
  config: {
    type: 'string',
    alias: 'c',
    valueHint: 'FILE',
    default: DEFAULT_CONFIG_PATH,
    description: 'route.yaml to use',
  },
} as const satisfies Record<string, ArgDef>

/** Output formats of `ctl show`. */
const formatArgs = {
  csv: { type: 'boolean', description: 'Comma-separated values, no header row' },
  json: { type: 'boolean', description: 'JSON array' },
} as const satisfies Record<string, ArgDef>

/** Whose effective config `ctl show config` prints. */
const whoArgs = {
  user: {
    type: 'string',
    valueHint: 'USER',
    description: 'For show config / forget sticky: the user',
  },
  groups: {
    type: 'string',
    valueHint: 'G1,G2',
    description: 'For show config: the groups (default: the user’s)',
  },
  source: {
    type: 'string',
    valueHint: 'IP:PORT',
    description: 'For show config: the gateway sshd address the user connected to',
  },
} as const satisfies Record<string, ArgDef>

const check = defineCommand({
  meta: {
    name: 'check',
    description: 'Check every destination (TCP connect + SSH banner) and store the results',
  },
  args: {
    ...configArgs,
    every: {
      type: 'string',
      valueHint: 'DURATION',
      description: 'Repeat forever at this interval (e.g. 30s), as a background checker',
    },
    ...debugArgs,
  },
  async run({ args }) {
    const { runCheck } = await import('./ctl')
    return runCheck(args.config, args.every)
  },
})

const show = defineCommand({
  meta: { name: 'show', description: 'Show hosts, users, connections, sticky, banner, or config' },
  args: {
    what: {
      type: 'positional',
      description: 'hosts | users | connections | sticky | banner | config',
      required: true,
    },
    ...configArgs,
    ...formatArgs,
    all: {
      type: 'boolean',
      description: 'connections: one row per connection instead of per user, service and host',
    },
    ...whoArgs,
    ...debugArgs,
  },
  async run({ args }) {
    const { runShow } = await import('./ctl')
    await runShow(args.config, args.what, args)
  },
})

const hostCommand = (name: 'enable' | 'disable', description: string) =>
  defineCommand({
    meta: { name, description },
    args: {
      // several destinations: enable a b c
      host: variadic({
        type: 'positional',
        description: 'Destination as in dest: (nodesets allowed), or --all',
        required: false,
      }),
      ...configArgs,
      all: { type: 'boolean', description: 'Every destination of the config' },
      ...debugArgs,
    },
    async run({ args }) {
      const { runEnable } = await import('./ctl')
      await runEnable(
        args.config,
        name === 'enable',
        args.all ? undefined : ([args.host, ...args._.slice(1)].filter(Boolean) as string[]),
      )
    },
  })

const forget = defineCommand({
  meta: {
    name: 'forget',
    description:
      'Forget a host’s state (forget host H|--all), sticky entries (forget sticky), or the banner',
  },
  args: {
    what: { type: 'positional', description: 'host | sticky | banner', required: true },
    host: { type: 'positional', description: 'for host: the destination', required: false },
    ...configArgs,
    all: { type: 'boolean', description: 'for host: every known host' },
    user: { type: 'string', valueHint: 'USER', description: 'for sticky: only this user' },
    service: { type: 'string', valueHint: 'NAME', description: 'for sticky: only this service' },
    dest: {
      type: 'string',
      valueHint: 'HOST',
      description: 'for sticky: only entries pointing here',
    },
    ...debugArgs,
  },
  async run({ args }) {
    const { runForget } = await import('./ctl')
    await runForget(args.config, args.what, args)
  },
})

const banner = defineCommand({
  meta: {
    name: 'banner',
    description: 'Set the error banner shown when no destination is up (--clear removes it)',
  },
  args: {
    message: { type: 'positional', description: 'The text', required: false },
    ...configArgs,
    expire: {
      type: 'string',
      valueHint: 'DURATION|DATE',
      description: 'Drop it after a duration (2h) or at a time (2026-12-01 18:00)',
    },
    clear: { type: 'boolean', description: 'Remove the banner' },
    ...debugArgs,
  },
  async run({ args }) {
    const { runBanner } = await import('./ctl')
    await runBanner(args.config, args.clear ? undefined : args.message, args.expire)
  },
})

const ctl = defineCommand({
  meta: {
    name: 'ctl',
    description: 'Inspect and steer the routing state (hosts, users, connections, banner)',
  },
  args: { ...configArgs },
  subCommands: {
    show,
    enable: hostCommand('enable', 'Route to these hosts again'),
    disable: hostCommand('disable', 'Stop routing new sessions to these hosts'),
    forget,
    banner,
  },
})

const replay = defineCommand({
  meta: {
    name: 'replay',
    description: 'Play a recording (.cast or .log) in real time, or print it with --dump',
  },
  args: {
    file: { type: 'positional', description: 'The recording', required: true },
    dump: { type: 'boolean', description: 'Print every event with its time instead of playing' },
    speed: { type: 'string', valueHint: 'N', description: 'Play N times faster (default 1)' },
    ...debugArgs,
  },
  async run({ args }) {
    const { runReplay } = await import('./replay')
    await runReplay(args.file, { dump: args.dump, speed: args.speed })
  },
})

const connect = defineCommand({
  meta: {
    name: 'connect',
    description:
      'ProxyCommand of the session’s ssh: connect to HOST without Nagle and hand ssh the socket',
    hidden: true,
  },
  args: {
    host: { type: 'positional', description: 'TCP host (ssh %h)', required: true },
    port: { type: 'positional', description: 'Port (ssh %p)', default: '22', required: false },
    quiet: { type: 'boolean', description: 'Print nothing when the connection fails (ssh -q)' },
    wait: {
      type: 'string',
      valueHint: 'SECONDS',
      description: 'Give up connecting after this long',
    },
  },
  async run({ args }) {
    const { runConnect } = await import('./connect')
    const wait = args.wait === undefined ? undefined : Number(args.wait)
    return runConnect(args.host, args.port, {
      quiet: args.quiet,
      timeoutMs: wait && wait > 0 ? wait * 1000 : undefined,
    })
  },
})

const stateService = defineCommand({
  meta: {
    name: 'state-service',
    description:
      'Own the routing state (SQLite file or etcd credentials) for every session of this gateway; run as root (packaging/burrow-route-state.service)',
  },
  args: {
    ...configArgs,
    socket: {
      type: 'string',
      valueHint: 'PATH',
      description: 'Listen here instead of state.socket',
    },
    ...debugArgs,
  },
  async run({ args }) {
    const { runStateService } = await import('./state/service')
    return runStateService({ configPath: args.config, socket: args.socket })
  },
})

// biome-ignore lint/suspicious/noExplicitAny: each subcommand has its own args type
export const routeSubCommands: Record<string, CommandDef<any>> = {
  check,
  ctl,
  replay,
  connect,
  'state-service': stateService,
}
