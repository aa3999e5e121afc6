/** What a session channel needs from its connection and the server's options. */
import type { Forwarding } from '../forward/forward'
import type { IncusAccess } from '../policy'
import type { ShellMode } from './command'
import type { CreateDefaults } from './create-config'
import type { Instances } from './instance'
import type { TermMux } from './persistent'

export interface SessionOptions {
  instances: Instances
  shell: ShellMode
  acceptEnv: string[]
  /** apply the key's environment= options (--permit-user-environment) */
  permitUserEnvironment?: boolean
  welcome?: string
  /** "client-ip client-port server-ip server-port" */
  connection: string
  /** --allow-create: the create-config.yaml defaults; undefined = creation off */
  createDefaults?: CreateDefaults
  /** --term-mux for `/instance` logins (default tmux) */
  mux?: TermMux
  /** --healthcheck: throws one line while incusd is down; `recheck` after a failed request */
  checkHealth?: (recheck?: boolean) => Promise<void>
  /** the connection's Incus identity (policy.ts incusAccess) */
  access?: IncusAccess
  /** the connection's forwarding (agent sockets live there); undefined = no agent forwarding */
  forwarding?: Forwarding
}
