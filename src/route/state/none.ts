/**
 * state.access: none — no shared state at all: nothing is counted or remembered, every
 * candidate host is probed on every login, and ctl has nothing to change.
 */
import { fail } from '../../core/errors'
import type { Banner, HostState, Registration, State, Sticky } from './types'

const refuse = (what: string): never =>
  fail(what, 'state.access is none in route.yaml, so there is no routing state to change')

export class NoState implements State {
  readonly name = 'none'
  readonly location = '(no state: state.access is none)'
  async register(): Promise<Registration> {
    return { setBandwidth() {}, close: async () => {} }
  }
  async connections() {
    return []
  }
  async hosts(): Promise<HostState[]> {
    return []
  }
  async host(): Promise<HostState | undefined> {
    return undefined
  }
  async recordCheck(): Promise<void> {}
  async setDisabled(id: string, disabled: boolean): Promise<void> {
    refuse(`${disabled ? 'disable' : 'enable'} ${id}`)
  }
  async forgetHost(id: string): Promise<void> {
    refuse(`forget ${id}`)
  }
  async remember(): Promise<void> {}
  async recall(): Promise<string | undefined> {
    return undefined
  }
  async sticky(): Promise<Sticky[]> {
    return []
  }
  async forgetSticky(): Promise<number> {
    return 0
  }
  async banner(): Promise<Banner | undefined> {
    return undefined
  }
  async setBanner(): Promise<void> {
    refuse('set the banner')
  }
  async clearBanner(): Promise<void> {}
  close(): void {}
}
