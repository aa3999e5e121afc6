import { defineCommand } from 'citty'
import pkg from '../package.json' with { type: 'json' }
import { commands } from './commands'

export const main = defineCommand({
  meta: {
    name: 'burrow',
    version: pkg.version,
    description: 'SSH into anything on this host: unix sockets, vsock, hybrid vsock, TCP, and more',
  },
  subCommands: commands,
})
