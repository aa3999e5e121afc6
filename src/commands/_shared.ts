import type { ArgDef } from 'citty'

export { debugArgs } from '../core/args'

/** HOST and PORT as OpenSSH's ProxyCommand passes them (%h %p). */
export const targetArgs = {
  host: {
    type: 'positional',
    description: 'unix/PATH, vsock/CID, vsock-mux/PATH, machine/NAME, qemu/NAME, incus/NAME, .host, or a TCP host; `%` may replace `/`',
    required: true,
  },
  port: { type: 'positional', description: 'Port (ssh %p)', default: '22', required: false },
} as const satisfies Record<string, ArgDef>
