/**
 * The ssh_config drop-in that makes `ssh vsock/4711`, `ssh unix%/run/x.sock`, `ssh .host` work,
 * and its user-level variant. Only files carrying MARKER are ever replaced or removed.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { SEPARATORS } from '../core/address'
import { fail } from '../core/errors'
import { selfCommand } from '../core/self'
import { backends, byPrefix } from './registry'

export const MARKER = '# burrow-managed: written by `burrow install-config`'

/**
 * The drop-in's two `Match host` lists, derived from what the backends declare (registry.ts):
 * every form's prefix in both spellings plus its whole-host names (`%` survives %h lowercasing
 * and scp/rsync), and, of those, the ones whose host keys are throwaway. A name whose policy
 * differs from its form's (machine/.host is this host's own sshd) is negated there.
 */
export function matchPatterns(): { hosts: string[]; throwaway: string[] } {
  const hosts: string[] = []
  const throwaway: string[] = []
  const negated: string[] = []
  for (const b of backends) {
    if (b.hostKeys === undefined) continue
    const prefixes = b.prefixes.flatMap((p) => SEPARATORS.map((s) => `${p}${s}*`))
    for (const n of b.names ?? []) {
      const coveredByPrefix = byPrefix(b, n.name)
      if (!coveredByPrefix) hosts.push(n.name)
      if (n.hostKeys === 'throwaway' && (b.hostKeys !== 'throwaway' || !coveredByPrefix))
        throwaway.push(n.name)
      if (n.hostKeys !== 'throwaway' && b.hostKeys === 'throwaway' && coveredByPrefix)
        negated.push(`!${n.name}`)
    }
    hosts.push(...prefixes)
    if (b.hostKeys === 'throwaway') throwaway.push(...prefixes)
  }
  // whole names first, as a reader looks for `.host`; order does not change what matches
  return { hosts: sortNamesFirst(hosts), throwaway: [...throwaway, ...negated] }
}

/** `--strict-host-keys`'s help: which forms keep OpenSSH's checking and which are throwaway. */
export function hostKeysHelp(): string {
  const checked: string[] = []
  const throwaway: string[] = []
  for (const b of backends) {
    if (b.hostKeys === undefined) continue
    for (const n of b.names ?? [])
      (n.hostKeys === 'check' ? checked : throwaway).push(n.name.replace('%', '/'))
    const forms = b.prefixes.length > 1 ? [`${b.prefixes[0]}*`] : [...b.prefixes]
    ;(b.hostKeys === 'check' ? checked : throwaway).push(...forms)
  }
  const unique = (xs: string[]) => [...new Set(xs)].join(', ')
  return `Check host keys for every form (default: only ${unique(checked)}; ${unique(throwaway)} hosts are throwaway)`
}

const sortNamesFirst = (patterns: string[]) => [
  ...patterns.filter((p) => !p.endsWith('*')),
  ...patterns.filter((p) => p.endsWith('*')),
]

export interface InstallOptions {
  user?: boolean
  print?: boolean
  uninstall?: boolean
  root?: string
  binary?: string
  strictHostKeys?: boolean
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`

export { selfCommand }

export function renderFragment(binary: string, strictHostKeys = false): string {
  const { hosts, throwaway } = matchPatterns()
  const lines = [
    MARKER,
    '# Remove with `burrow install-config --uninstall`; rerun install-config rather than editing.',
    '#',
    '# `Match host` (not `Host`) tests the name after HostName substitution, so an alias such as',
    '# `Host myvm` + `HostName unix%%/run/vm.sock` in ~/.ssh/config is proxied too: scp and rsync',
    '# read `unix%/run/vm.sock:/path` as a local path, and need such an alias.',
    '# %n is the host as typed: OpenSSH lowercases %h for names without `%` or `:`,',
    '# and burrow uses %n when it differs from %h only in case (unix/tmp/AbC keeps its case).',
    `Match host ${hosts.join(',')}`,
    `    ProxyCommand ${binary} proxy --typed '%n' '%h' %p`,
    '    ProxyUseFdpass yes',
    '    CheckHostIP no',
  ]
  if (!strictHostKeys) {
    lines.push(
      '',
      '# Throwaway VMs and containers reuse CIDs, socket paths and machine names with fresh host',
      '# keys, and these transports only reach this host (the kernel, not the network, picks the',
      '# peer), so their keys are not recorded. .host, machine/.host and qemu* (stable machines)',
      '# keep the usual checking. Install with --strict-host-keys to check every form.',
      `Match host ${throwaway.join(',')}`,
      '    StrictHostKeyChecking no',
      '    UserKnownHostsFile /dev/null',
      '    GlobalKnownHostsFile /dev/null',
      '    # without this, ssh says "Permanently added ... to the list of known hosts" every time',
      '    LogLevel ERROR',
    )
  }
  return `${lines.join('\n')}\n`
}

interface Paths {
  fragment: string
  /** the user's ~/.ssh/config, which must Include the fragment (user mode only) */
  userConfig?: string
}

function paths(opts: InstallOptions): Paths {
  const root = opts.root ?? ''
  if (!opts.user) return { fragment: join(root, '/etc/ssh/ssh_config.d/20-burrow.conf') }
  const ssh = join(root, homedir(), '.ssh')
  return { fragment: join(ssh, 'burrow.conf'), userConfig: join(ssh, 'config') }
}

const includeLine = (fragment: string) => `Include ${fragment}`

function ours(path: string): boolean {
  return readFileSync(path, 'utf8').includes(MARKER)
}

/** Returns the lines to report; throws BurrowError on anything it will not do. */
export function installConfig(opts: InstallOptions): string[] {
  const text = renderFragment(opts.binary ? q(opts.binary) : selfCommand(), opts.strictHostKeys)
  if (opts.print) return [text.trimEnd()]
  const p = paths(opts)
  if (opts.uninstall) return uninstall(p)
  const report: string[] = []
  if (existsSync(p.fragment) && !ours(p.fragment)) {
    fail(
      `write ${p.fragment}`,
      'the file exists and was not written by burrow (move it away first)',
    )
  }
  if (existsSync(p.fragment) && readFileSync(p.fragment, 'utf8') === text) {
    report.push(`${p.fragment} is already up to date`)
  } else {
    mkdirSync(dirname(p.fragment), { recursive: true, mode: 0o755 })
    writeFileSync(p.fragment, text, { mode: 0o644 })
    report.push(`wrote ${p.fragment}`)
  }
  if (p.userConfig) report.push(addInclude(p.userConfig, p.fragment))
  report.push(verify(p))
  return report
}

/** The Include must precede every Host block, or it would only apply inside the last one. */
function addInclude(config: string, fragment: string): string {
  const line = includeLine(fragment)
  const old = existsSync(config) ? readFileSync(config, 'utf8') : ''
  if (old.split('\n').some((l) => l.trim() === line)) return `${config} already includes it`
  writeFileSync(config, `${line}\n${old}`, { mode: 0o600 })
  return `added '${line}' at the top of ${config}`
}

function uninstall(p: Paths): string[] {
  const report: string[] = []
  if (!existsSync(p.fragment)) report.push(`${p.fragment} is not installed`)
  else if (!ours(p.fragment))
    fail(`remove ${p.fragment}`, 'it was not written by burrow; leaving it alone')
  else {
    rmSync(p.fragment)
    report.push(`removed ${p.fragment}`)
  }
  if (p.userConfig && existsSync(p.userConfig)) {
    const line = includeLine(p.fragment)
    const old = readFileSync(p.userConfig, 'utf8')
    const kept = old.split('\n').filter((l) => l.trim() !== line)
    if (kept.length !== old.split('\n').length) {
      writeFileSync(p.userConfig, kept.join('\n'))
      report.push(`removed '${line}' from ${p.userConfig}`)
    }
  }
  return report
}

/**
 * Asks the real ssh whether the fragment takes effect (`ssh -G vsock%4711`). With --root the
 * system's own config is not the one being written, so ssh reads a file that includes it.
 */
function verify(p: Paths): string {
  const probe = 'vsock%4711'
  let args = ['-G', probe]
  let tmp: string | undefined
  if (p.userConfig === undefined && !p.fragment.startsWith('/etc/')) {
    tmp = mkdtempSync(join(tmpdir(), 'burrow-verify-'))
    writeFileSync(join(tmp, 'config'), `${includeLine(p.fragment)}\n`)
    args = ['-F', join(tmp, 'config'), ...args]
  } else if (p.userConfig !== undefined) args = ['-F', p.userConfig, ...args]
  try {
    const r = spawnSync('ssh', args, { encoding: 'utf8' })
    if (r.error) return `could not run ssh to check the result (${r.error.message})`
    if (r.status !== 0)
      fail(`check ${p.fragment} with ssh -G`, r.stderr.trim().split('\n')[0] ?? `exit ${r.status}`)
    const proxy = r.stdout.split('\n').find((l) => l.startsWith('proxycommand '))
    if (proxy?.includes(' proxy --typed ')) return `ssh -G ${probe} uses it: ${proxy}`
    return `warning: ssh -G ${probe} does not use it (${proxy ?? 'no proxycommand'}): an earlier Host match or a missing Include wins`
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true })
  }
}
