import { defineCommand } from 'citty'
import { debugArgs, targetArgs } from './_shared'

export default defineCommand({
  meta: {
    name: 'proxy',
    description:
      'OpenSSH ProxyCommand: connect to HOST and hand the socket to ssh (ProxyUseFdpass), or relay stdin/stdout',
  },
  args: {
    ...targetArgs,
    typed: {
      type: 'string',
      valueHint: '%n',
      description:
        'The host as typed on the ssh command line; used when HOST is only its lowercased form',
    },
    resolve: {
      type: 'boolean',
      description: 'Print the final address (`ADDRESS PORT`) and connect nothing',
    },
    pump: {
      type: 'boolean',
      description: 'Relay stdin/stdout even when stdout is a socket (no fd passing)',
    },
    wait: {
      type: 'string',
      alias: 'w',
      valueHint: 'SECONDS',
      description:
        "Connect timeout and idle timeout, like nc -w. vsock-mux waits this long (default 5 s, as systemd-ssh-proxy) for the optional 'OK <port>' line and consumes it; without one, or after the wait, every byte is passed on (ssh skips lines before the banner)",
    },
    ...debugArgs,
  },
  async run({ args }) {
    const { runProxy } = await import('../proxy/run')
    return runProxy({
      host: args.host,
      port: args.port,
      typed: args.typed,
      resolve: args.resolve,
      pump: args.pump,
      wait: args.wait,
    })
  },
})
