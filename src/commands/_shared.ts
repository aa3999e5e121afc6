import type { ArgDef } from 'citty'
import { formsHelp } from '../proxy/registry'

export { debugArgs } from '../core/args'

/** HOST and PORT as OpenSSH's ProxyCommand passes them (%h %p). */
export const targetArgs = {
  host: {
    type: 'positional',
    description: formsHelp(),
    required: true,
  },
  port: { type: 'positional', description: 'Port (ssh %p)', default: '22', required: false },
} as const satisfies Record<string, ArgDef>
