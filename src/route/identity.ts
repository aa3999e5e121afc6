/**
 * Who runs this process, from the kernel: the real uid's passwd entry (getpwuid) and the
 * process's own groups. Never $USER or $LOGNAME: the user's ~/.bashrc runs before the
 * ForceCommand and may set them to anything (docs/security.md, rule "identity").
 */
import { userNameOf } from '../core/ffi/libc'
import { identityFrom } from './policy'

export interface Me {
  uid: number
  user: string
  groups: () => string[]
}

/** Group names of a process's groups (`id -Gn` with no user: getgroups(2), not the passwd name). */
function kernelGroups(): () => string[] {
  let cached: string[] | undefined
  return () => {
    if (cached) return cached
    const r = Bun.spawnSync(['id', '-Gn'], {
      stdout: 'pipe',
      stderr: 'pipe',
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    })
    cached = r.exitCode === 0 ? r.stdout.toString().trim().split(/\s+/).filter(Boolean) : []
    return cached
  }
}

/** Group names of `user` in the group database (for a peer of the state service). */
export function groupsOf(user: string): string[] {
  const r = Bun.spawnSync(['id', '-Gn', '--', user], {
    stdout: 'pipe',
    stderr: 'pipe',
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
  })
  return r.exitCode === 0 ? r.stdout.toString().trim().split(/\s+/).filter(Boolean) : []
}

export function currentUser(): Me {
  const uid = process.getuid!()
  return { uid, user: identityFrom(uid, userNameOf), groups: kernelGroups() }
}
