/**
 * The options of `burrow serve`, as citty defines them. ServeArgs, the parsed shape that run,
 * the master and its workers pass around, is derived from this definition, so the two cannot drift.
 */
import type { ArgsDef, ParsedArgs } from 'citty'
import { debugArgs } from '../../core/args'

export const serveArgs = {
  listen: {
    type: 'string',
    alias: 'l',
    default: ':2222',
    valueHint: '[HOST]:PORT',
    description: 'Address to listen on',
  },
  'host-key': {
    type: 'string',
    valueHint: 'PATH[,PATH]',
    description:
      'Host keys (default: readable /etc/ssh/ssh_host_*_key, else one kept in the state dir)',
  },
  'authorized-keys': {
    type: 'string',
    valueHint: 'PATHS',
    description:
      'authorized_keys files, %h home, %u user (default: %h/.ssh/authorized_keys,/etc/ssh/authorized_keys.d/%u)',
  },
  groups: {
    type: 'string',
    alias: 'g',
    default: 'incus,incus-admin',
    description: 'Host groups whose members may log in (root always may)',
  },
  'auth-methods': {
    type: 'string',
    valueHint: 'LIST',
    description: 'Required methods as in sshd AuthenticationMethods, e.g. "publickey,password"',
  },
  'password-auth': {
    type: 'boolean',
    alias: 'P',
    description: "Accept the host user's password (from /etc/shadow)",
  },
  inauth: {
    type: 'boolean',
    alias: 'I',
    description:
      "Also accept keys from the instance user's ~/.ssh/authorized_keys (with -P: its password in the instance's /etc/shadow)",
  },
  'permit-user-environment': {
    type: 'boolean',
    description:
      'Apply environment="NAME=value" options of authorized_keys (sshd PermitUserEnvironment)',
  },
  noauth: { type: 'boolean', description: 'DANGEROUS, development only: let anyone in' },
  shell: {
    type: 'string',
    alias: 'S',
    default: 'user-shell',
    valueHint: 'user-shell|login|su',
    description: 'How shells start in the instance',
  },
  banner: {
    type: 'string',
    alias: 'b',
    valueHint: 'TEXT|@FILE',
    description: 'Text shown before authentication ([HOSTNAME] is replaced)',
  },
  welcome: {
    type: 'string',
    alias: 'w',
    valueHint: 'TEXT|@FILE',
    description:
      'Text shown when a shell starts ([INSTANCE], [INSTANCE_USER], [PROJECT], [REMOTE], [HOSTNAME])',
  },
  'accept-env': {
    type: 'string',
    valueHint: 'NAMES',
    description: 'More env names to accept besides LANG and LC_*, e.g. "TZ,EDITOR,GIT_*"',
  },
  'login-grace-time': {
    type: 'string',
    default: '30s',
    description: 'Drop connections not authenticated within this time (0 = never)',
  },
  'max-startups': {
    type: 'string',
    default: '10:30:100',
    valueHint: 'N|START:RATE:FULL',
    description: 'Limit on unauthenticated connections, as in sshd',
  },
  'max-auth-tries': {
    type: 'string',
    default: '6',
    description: 'Failed attempts before a connection is dropped',
  },
  'max-auth-failures': {
    type: 'string',
    default: '10/60',
    valueHint: 'N/SECONDS',
    description: 'Refuse a source address after N failed connections in SECONDS (0 = off)',
  },
  socket: {
    type: 'string',
    alias: 's',
    valueHint: 'PATH',
    description: 'Incus unix socket (default $INCUS_SOCKET or /var/lib/incus/unix.socket)',
  },
  url: {
    type: 'string',
    alias: 'u',
    valueHint: 'URL',
    description: 'Incus HTTPS URL instead of the unix socket',
  },
  'client-cert': {
    type: 'string',
    alias: 'c',
    valueHint: 'PATH',
    description: 'TLS client certificate for --url',
  },
  'client-key': {
    type: 'string',
    alias: 'k',
    valueHint: 'PATH',
    description: 'TLS client key for --url',
  },
  'server-cert': {
    type: 'string',
    alias: 't',
    valueHint: 'PATH',
    description: 'Pinned server certificate for --url',
  },
  remote: {
    type: 'string',
    alias: 'r',
    valueHint: 'NAME',
    description: "Incus remote (from the incus client's config.yml) for logins that name none",
  },
  'allow-create': {
    type: 'boolean',
    alias: 'C',
    description: 'Let +name / ~name (ephemeral) logins create missing instances',
  },
  'create-config': {
    type: 'string',
    valueHint: 'PATH',
    description:
      'Creation defaults (default: /etc/burrow/create-config.yaml, then ./create-config.yaml)',
  },
  'term-mux': {
    type: 'string',
    alias: 'T',
    default: 'tmux',
    valueHint: 'tmux|screen',
    description: 'Multiplexer for persistent /instance sessions',
  },
  master: {
    type: 'boolean',
    alias: 'm',
    description: 'One worker process per connection; restarting the master keeps sessions',
  },
  healthcheck: {
    type: 'string',
    alias: 'H',
    valueHint: 'DURATION',
    description: 'Check Incus every DURATION (e.g. 5m); while it is down, logins fail at once',
  },
  ...debugArgs,
} as const satisfies ArgsDef

/** What citty parses from serveArgs (also what a --master worker receives, as JSON) */
export type ServeArgs = Pick<ParsedArgs<typeof serveArgs>, keyof typeof serveArgs>
