/**
 * The SSH login name as a target, in ssh2incus v0.7's grammar (server/user.go parseLoginUser):
 *   [/][remote:][instance-user@]instance-name[.project-name][+host-user]
 *   [+|~][remote:]instance-name[.project][+image][+mN][+cN][+dN][+nest][+priv][+vm][+host-user]
 * Parsing follows v0.7's cut order exactly; validation afterwards is burrow's own and strict,
 * because every part later becomes an API path, an exec argument or a file name.
 */

export interface Login {
  kind: 'login'
  /** leading `/`: attach to a persistent tmux session */
  persistent: boolean
  /** '' = the default endpoint */
  remote: string
  instanceUser: string
  instance: string
  project: string
  hostUser: string
  /** `%shell` and friends: a command on the host instead of an instance */
  command?: string
}

export interface CreateLogin {
  kind: 'create'
  ephemeral: boolean
  remote: string
  instance: string
  project: string
  /** image alias, e.g. debian/12 (tokens containing `/`) */
  image?: string
  memoryGiB?: number
  cpus?: number
  diskGiB?: number
  nest: boolean
  priv: boolean
  vm: boolean
  hostUser: string
  /**
   * An unknown option, as the message for the user. Kept instead of thrown so that the login
   * still authenticates (its host user is known) and the user can be told which token it was.
   */
  invalid?: string
}

export type Target = Login | CreateLogin

/** OpenSSH itself refuses user names beyond this; nothing sensible is longer. */
export const MAX_LOGIN_LENGTH = 256
/** the commands v0.7 knows after `%` */
const COMMANDS = ['shell']

// Incus instance names are hostname labels: letters, digits, `-`, not starting with a digit or `-`
const INSTANCE = /^[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
const PROJECT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/
const REMOTE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/
// POSIX portable user names (useradd's NAME_REGEX, plus upper case as some directories use it)
export const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/

/** A parse or validation failure; the message is for the server log and the authenticated user. */
export class LoginError extends Error {
  override name = 'LoginError'
}

function cut(s: string, sep: string): [string, string, boolean] {
  const i = s.indexOf(sep)
  return i < 0 ? [s, '', false] : [s.slice(0, i), s.slice(i + sep.length), true]
}

/** Splits a login exactly as v0.7 does, without judging the parts. */
export function splitLogin(login: string): Target {
  if (login.startsWith('+') || login.startsWith('~')) return splitCreate(login)
  const out: Login = {
    kind: 'login',
    persistent: false,
    remote: '',
    instanceUser: 'root',
    instance: '',
    project: 'default',
    hostUser: 'root',
  }
  let rest = login
  if (rest.startsWith('/')) {
    out.persistent = true
    rest = rest.slice(1)
  }
  let [left, right, found] = cut(rest, ':')
  if (found) [out.remote, rest] = [left, right]
  ;[left, right, found] = cut(rest, '+')
  if (found) [rest, out.hostUser] = [left, right]
  ;[left, right, found] = cut(rest, '@')
  if (found) [out.instanceUser, rest] = [left, right]
  ;[left, right, found] = cut(rest, '.')
  if (found) [rest, out.project] = [left, right || 'default']
  out.instance = rest
  if (out.instance.startsWith('%')) {
    out.command = out.instance.slice(1)
    out.instance = out.instanceUser = out.project = ''
  }
  return out
}

function splitCreate(login: string): CreateLogin {
  const out: CreateLogin = {
    kind: 'create',
    ephemeral: login[0] === '~',
    remote: '',
    instance: '',
    project: 'default',
    nest: false,
    priv: false,
    vm: false,
    hostUser: 'root',
  }
  const [target, options] = cut(login.slice(1), '+')
  let [left, right, found] = cut(target, ':')
  let rest = target
  if (found) [out.remote, rest] = [left, right]
  ;[left, right, found] = cut(rest, '.')
  // v0.7 leaves `+box.` with an empty project; burrow defaults it like the regular form
  out.instance = found ? left : rest
  if (found) out.project = right || 'default'
  const tokens = options === '' ? [] : options.split('+')
  tokens.forEach((tok, i) => {
    if (tok === '') return
    if (tok.includes('/')) return void (out.image = tok)
    const num = /^([mcd])(\d{1,6})$/.exec(tok)
    if (num) {
      // 0 = no limit, which overrides a limit from create-config.yaml (`d0`: unlimited disk)
      const n = Number(num[2])
      if (num[1] === 'm') out.memoryGiB = n
      else if (num[1] === 'c') out.cpus = n
      else out.diskGiB = n
      return
    }
    if (tok === 'n' || tok.startsWith('nest')) return void (out.nest = true)
    if (tok === 'p' || tok.startsWith('priv')) return void (out.priv = true)
    if (tok === 'e' || tok.startsWith('ephe')) return void (out.ephemeral = true)
    if (tok === 'v' || tok === 'vm') return void (out.vm = true)
    // v0.7 drops unknown tokens silently, so `+box+debian` lost the image without a word; burrow
    // takes the last one as the host user (and the login then fails loudly) and refuses others
    if (i === tokens.length - 1) return void (out.hostUser = tok)
    out.invalid ??= `unknown option '${tok}' (images need a '/', e.g. debian/12; limits are m4, c2, d10; flags nest, priv, vm)`
  })
  return out
}

/** Parses and validates; throws LoginError with a reason fit for the authenticated user. */
export function parseLogin(login: string): Target {
  if (login.length === 0) throw new LoginError('empty login')
  if (login.length > MAX_LOGIN_LENGTH)
    throw new LoginError(`login longer than ${MAX_LOGIN_LENGTH} characters`)
  // control characters, spaces, quotes and non-ASCII never belong in any part
  if (!/^[\x21-\x7e]+$/.test(login))
    throw new LoginError('login contains control, space or non-ASCII characters')
  const t = splitLogin(login)
  check(REMOTE, t.remote, 'remote', true)
  check(USER_NAME, t.hostUser, 'host user')
  if (t.kind === 'login' && t.command !== undefined) {
    if (!COMMANDS.includes(t.command))
      throw new LoginError(`unknown command '%${t.command}' (known: %shell)`)
    return t
  }
  check(INSTANCE, t.instance, 'instance name')
  check(PROJECT, t.project, 'project name')
  if (t.kind === 'login') check(USER_NAME, t.instanceUser, 'instance user')
  if (
    t.kind === 'create' &&
    t.image !== undefined &&
    !/^[A-Za-z0-9][A-Za-z0-9_./:-]{0,127}$/.test(t.image)
  ) {
    throw new LoginError(`invalid image alias '${t.image}'`)
  }
  return t
}

function check(re: RegExp, value: string, what: string, optional = false): void {
  if (optional && value === '') return
  if (value === '') throw new LoginError(`empty ${what}`)
  if (!re.test(value)) throw new LoginError(`invalid ${what} '${value}'`)
}

/** The login written back in canonical form, for logs and the welcome text. */
export function formatTarget(t: Target): string {
  const remote = t.remote ? `${t.remote}:` : ''
  const project = t.project === 'default' ? '' : `.${t.project}`
  if (t.kind === 'create') return `${t.ephemeral ? '~' : '+'}${remote}${t.instance}${project}`
  if (t.command !== undefined)
    return `${t.persistent ? '/' : ''}${remote}%${t.command}+${t.hostUser}`
  return `${t.persistent ? '/' : ''}${remote}${t.instanceUser}@${t.instance}${project}+${t.hostUser}`
}

/** `+name` / `~name` logins as a plain login as root, for when the instance already exists */
export function asLogin(t: Target): Login {
  if (t.kind === 'login') return t
  return {
    kind: 'login',
    persistent: false,
    remote: t.remote,
    instanceUser: 'root',
    instance: t.instance,
    project: t.project,
    hostUser: t.hostUser,
  }
}
