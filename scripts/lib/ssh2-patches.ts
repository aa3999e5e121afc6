/**
 * Fixes to the bundled ssh2 source, applied while bun builds dist/burrow (node_modules stays
 * untouched). Each patch names the exact text it replaces; when ssh2 changes and the text is
 * gone the build fails instead of shipping the unpatched behaviour.
 */
import type { BunPlugin } from 'bun'

interface Patch {
  /** path suffix inside node_modules/ssh2 */
  file: string
  why: string
  from: string
  to: string
}

export const SSH2_PATCHES: Patch[] = [
  // OpenSSH PROTOCOL, "kex-strict": only the *initial* key exchange must refuse unexpected
  // packets. ssh2 applied it to every rekey too, so an SSH_MSG_IGNORE sent during a rekey
  // (asyncssh does) killed the session. Mark the handler installed for a rekey ...
  {
    file: 'lib/protocol/kex.js',
    why: 'mark rekey key exchanges',
    from: 'self._decipher._onPayload = onKEXPayload.bind(self, { firstPacket: false });',
    to: 'self._decipher._onPayload = onKEXPayload.bind(self, { firstPacket: false, rekey: true });',
  },
  // ... and let IGNORE, DEBUG and UNIMPLEMENTED through during one, as without strict mode
  {
    file: 'lib/protocol/kex.js',
    why: 'strict KEX only for the initial exchange',
    from: 'if (!this._strictMode) {',
    to: 'if (!this._strictMode || state.rekey) {',
  },
  // During a rekey, connection-protocol messages (channel data, window adjusts) keep being
  // handled, as OpenSSH does (it only diverts transport messages 1-49 while keys change):
  // asyncssh sends KEXINIT and then the data that triggered it. ssh2 called that fatal.
  {
    file: 'lib/protocol/kex.js',
    why: 'connection messages during a rekey',
    from: '      // Ensure packet is either an algorithm negotiation or KEX\n      // algorithm-specific packet\n      if (type < 20 || type > 49) {',
    to: '      if (state.rekey && type > 49) {\n        if (!MESSAGE_HANDLERS)\n          MESSAGE_HANDLERS = require(\'./handlers.js\');\n        const handler = MESSAGE_HANDLERS[type];\n        return handler && handler(this, payload);\n      }\n      if (type < 20 || type > 49) {',
  },
  // A refused direct-tcpip / direct-streamlocal open carries strerror's text as sshd's does
  // ("open failed: connect failed: Connection refused"); ssh2's reject() sent '' only.
  {
    file: 'lib/server.js',
    why: 'channel open failure description',
    from: 'const reject = () => {\n            if (replied)',
    to: 'const reject = (description) => {\n            if (replied)',
  },
  {
    file: 'lib/server.js',
    why: 'channel open failure description (send)',
    from: "proto.channelOpenFail(info.sender, reason, '');",
    to: "proto.channelOpenFail(info.sender, reason, typeof description === 'string' ? description : '');",
  },
]

/** Applies SSH2_PATCHES to `text` of `path`; throws when a patch's text is not there once. */
export function patchSource(path: string, text: string): string {
  for (const p of SSH2_PATCHES) {
    if (!path.endsWith(`ssh2/${p.file}`)) continue
    const at = text.indexOf(p.from)
    if (at < 0 || text.indexOf(p.from, at + 1) >= 0)
      throw new Error(`ssh2 patch '${p.why}': expected text not found once in ${path}`)
    text = text.replace(p.from, p.to)
  }
  return text
}

export const ssh2Patches: BunPlugin = {
  name: 'ssh2-patches',
  setup(build) {
    const files = [...new Set(SSH2_PATCHES.map((p) => p.file.replaceAll('.', '\\.')))]
    const filter = new RegExp(`ssh2[\\\\/](${files.join('|')})$`)
    build.onLoad({ filter }, async ({ path }) => ({
      contents: patchSource(path, await Bun.file(path).text()),
      loader: 'js',
    }))
  },
}
