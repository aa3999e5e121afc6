import { defineCommand } from 'citty'
import { fail } from '../core/errors'

export default defineCommand({
  meta: { name: 'route', description: 'sshd ForceCommand that routes sessions to a pool of hosts (not yet available)' },
  run() {
    fail('start route', 'not yet available in this version of burrow')
  },
})
