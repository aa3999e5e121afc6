import { defineCommand } from 'citty'
import { hostKeysHelp } from '../proxy/install-config'
import { debugArgs } from './_shared'

export default defineCommand({
  meta: {
    name: 'install-config',
    description:
      'Write the ssh_config drop-in that makes `ssh vsock/4711`, `ssh unix%/run/x.sock` and `ssh .host` work',
  },
  args: {
    user: {
      type: 'boolean',
      description: 'Write ~/.ssh/burrow.conf and Include it from ~/.ssh/config',
    },
    print: { type: 'boolean', description: 'Print the fragment instead of writing it' },
    uninstall: { type: 'boolean', description: 'Remove what install-config wrote' },
    root: {
      type: 'string',
      valueHint: 'DIR',
      description: 'Treat DIR as / (for packaging and tests)',
    },
    binary: {
      type: 'string',
      valueHint: 'PATH',
      description: 'Path of burrow in ProxyCommand (default: this binary)',
    },
    'strict-host-keys': {
      type: 'boolean',
      description: hostKeysHelp(),
    },
    ...debugArgs,
  },
  async run({ args }) {
    const { installConfig } = await import('../proxy/install-config')
    const lines = installConfig({
      user: args.user,
      print: args.print,
      uninstall: args.uninstall,
      root: args.root,
      binary: args.binary,
      strictHostKeys: args['strict-host-keys'],
    })
    // --print is data for the caller; the rest is a report for a person
    const out = args.print ? process.stdout : process.stderr
    for (const line of lines) out.write(`${line}\n`)
  },
})
