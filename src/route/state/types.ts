/**
 * The State contract shared by the embedded (SQLite) and etcd stores. Both give the same
 * meaning to each call; a contract suite (state.case.ts) runs against each.
 */

/** One live session, registered for as long as its `burrow route` process runs. */
export interface Connection {
  /** session id (10 hex digits) */
  id: string
  user: string
  service: string
  /** Dest.id of the destination */
  dest: string
  /** the client's ip:port, from SSH_CONNECTION */
  from: string
  /** the gateway sshd's own ip:port, from SSH_CONNECTION */
  sshd: string
  /** host name of the gateway running the session */
  gateway: string
  /** start time, ms since the epoch */
  start: number
  /** bytes per second client → destination and back, measured only when recording */
  bwIn: number
  bwOut: number
}

export type Check = 'up' | 'down' | 'unknown'

export interface HostState {
  id: string
  /** result of the last check */
  state: Check
  /** when it was checked, ms since the epoch; 0 = never */
  ts: number
  disabled: boolean
}

export interface Banner {
  text: string
  /** ms since the epoch; undefined = until cleared */
  expire?: number
}

export interface Sticky {
  user: string
  service: string
  dest: string
  expire: number
}

/** A registered connection; kept alive by the store until close(). */
export interface Registration {
  setBandwidth(bwIn: number, bwOut: number): void
  /** `exit`: the session's exit code, for the audit log of the state service */
  close(exit?: number): Promise<void>
}

/** A line of the audit log: a session started, ended, or found no destination up. */
export interface AuditEvent {
  kind: 'start' | 'end' | 'nodest'
  sid: string
  service: string
  from: string
  sshd: string
  dest?: string
  command?: string
  exit?: number
  seconds?: number
}

export interface ConnectionFilter {
  user?: string
  service?: string
}

export interface State {
  readonly name: 'embedded' | 'etcd' | 'service' | 'none'
  /** where the state lives (file path or endpoints), for messages */
  readonly location: string
  /** `command`: the session's command, for the state service's audit log */
  register(c: Connection, ttlMs: number, command?: string): Promise<Registration>
  connections(filter?: ConnectionFilter): Promise<Connection[]>
  hosts(): Promise<HostState[]>
  host(id: string): Promise<HostState | undefined>
  /** stores a check result, keeping the host's disabled flag */
  recordCheck(id: string, state: Check, ts: number): Promise<void>
  setDisabled(id: string, disabled: boolean): Promise<void>
  forgetHost(id: string): Promise<void>
  /** user@service → dest for ttlMs after now */
  remember(user: string, service: string, dest: string, ttlMs: number): Promise<void>
  recall(user: string, service: string): Promise<string | undefined>
  sticky(): Promise<Sticky[]>
  /** removes sticky entries matching every given field; returns how many */
  forgetSticky(filter: { user?: string; service?: string; dest?: string }): Promise<number>
  banner(): Promise<Banner | undefined>
  setBanner(text: string, expire?: number): Promise<void>
  clearBanner(): Promise<void>
  /** only the state service's client has it: the service writes the line, attributed by uid */
  audit?(event: AuditEvent): Promise<void>
  /** a message for the session to print once (etcd unreachable, local state used) */
  readonly warning?: string
  close(): void
}
