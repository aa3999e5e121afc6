/**
 * `--inauth`: what the instance itself says about its user, read through the Incus file API
 * with the server's own identity: the user's ~/.ssh/authorized_keys, and its /etc/shadow entry.
 */
import { logger } from '../../core/log'
import type { Instances } from '../session/instance'
import type { AuthDeps } from './auth'
import type { Login } from './login'
import { formatTarget } from './login'

/** --inauth: the keys in the instance user's ~/.ssh/authorized_keys, read with the file API. */
export async function instanceKeys(
  instances: Instances,
  t: Parameters<NonNullable<AuthDeps['instanceKeys']>>[0],
) {
  const { parseAuthorizedKeys } = await import('./authorized-keys')
  try {
    const client = instances.client(t.remote)
    const user = await instances.user(client, t)
    const file = await client.readFile(t.instance, t.project, `${user.home}/.ssh/authorized_keys`)
    return parseAuthorizedKeys(
      new TextDecoder().decode(file.content),
      `${t.instance}:${user.home}/.ssh/authorized_keys`,
    )
  } catch (err) {
    logger.debug(`instance keys for ${formatTarget(t)}: ${(err as Error).message}`)
    return []
  }
}

/** --inauth with passwords: the instance user's entry in the instance's own /etc/shadow. */
export async function instancePassword(
  instances: Instances,
  t: Login,
  password: string,
): Promise<boolean> {
  try {
    const file = await instances.client(t.remote).readFile(t.instance, t.project, '/etc/shadow')
    const { checkShadowText } = await import('./shadow')
    return await checkShadowText(new TextDecoder().decode(file.content), t.instanceUser, password)
  } catch (err) {
    logger.debug(`instance password for ${formatTarget(t)}: ${(err as Error).message}`)
    return false
  }
}
