import { defineCommand } from 'citty'
import { debugArgs } from './_shared'
import { configArgs, routeSubCommands } from '../route/commands'

export default defineCommand({
  meta: {
    name: 'route',
    description:
      'sshd ForceCommand: route the session to a host of the pool in route.yaml, through the system ssh',
  },
  args: { ...configArgs, ...debugArgs },
  subCommands: routeSubCommands,
  async run({ args }) {
    const { runSession } = await import('../route/session')
    // ssh's exit status becomes burrow's (src/core/cli.ts returns it)
    return runSession({ configPath: args.config })
  },
})
