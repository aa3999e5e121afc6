import { defineCommand } from 'citty'
import { fail } from '../core/errors'

export default defineCommand({
  meta: { name: 'serve', description: 'SSH server for Incus instances (not yet available)' },
  run() {
    fail('start serve', 'not yet available in this version of burrow')
  },
})
