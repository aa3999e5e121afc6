import { defineCommand } from 'citty'
import { serveArgs } from '../serve/process/args'

export default defineCommand({
  meta: {
    name: 'serve',
    description:
      'SSH server for Incus instances: `ssh -p 2222 [user@]instance[.project]@host` (see docs/serve.md)',
  },
  args: serveArgs,
  async run({ args }) {
    const { runServe } = await import('../serve/process/run')
    return runServe(args)
  },
})
