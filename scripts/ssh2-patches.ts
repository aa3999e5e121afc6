/**
 * Small, named source patches to the bundled ssh2, applied by a Bun plugin when the build
 * (scripts/compile.ts) and the tests (bunfig.toml [test] preload) load ssh2's files, never by
 * editing node_modules. Each patch names one exact text that must occur exactly once in its file;
 * a patch whose text is missing or ambiguous, or whose file never loaded, fails the build.
 */
import { readFileSync } from 'node:fs'
import type { BunPlugin } from 'bun'

export interface SourcePatch {
  /** shown when it fails, e.g. after an ssh2 upgrade */
  name: string
  /** path under node_modules/ssh2/ */
  file: string
  find: string
  replace: string
}

const binding = new URL('../src/serve/transport/ssh2-binding.ts', import.meta.url).pathname

export const ssh2Patches: SourcePatch[] = [
  {
    // EXT_INFO (RFC 8308): two literals joined without a comma, so clients read
    // `ecdsa-sha2-nistp521rsa-sha2-512` as one unknown algorithm and lose rsa-sha2-512
    name: 'server-sig-algs comma',
    file: 'lib/protocol/Protocol.js',
    find: "'ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521'\n      + 'rsa-sha2-512,",
    replace:
      "'ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,'\n      + 'rsa-sha2-512,",
  },
  {
    // ssh2's optional native addon cannot load under Bun; in its place offer chacha20-poly1305
    // and AES-GCM on libcrypto (undefined if libcrypto is unavailable)
    name: 'libcrypto binding',
    file: 'lib/protocol/crypto.js',
    find: "binding = require('./crypto/build/Release/sshcrypto.node');",
    replace: `binding = require(${JSON.stringify(binding)}).binding();`,
  },
  {
    // the cipher list is filtered by crypto.getCiphers(), which lacks chacha20 under Bun
    name: 'chacha20-poly1305 offered with the binding',
    file: 'lib/protocol/constants.js',
    find: 'return (name) => ciphers.includes(CIPHER_INFO[name].sslName);',
    replace:
      "return (name) => ciphers.includes(CIPHER_INFO[name].sslName) || (bindingAvailable && name === 'chacha20-poly1305@openssh.com');",
  },
  {
    // OpenSSH PROTOCOL, "kex-strict": only the *initial* key exchange must refuse unexpected
    // packets. ssh2 applied it to every rekey too, so an SSH_MSG_IGNORE sent during a rekey
    // (asyncssh does) killed the session. Mark the handler installed for a rekey ...
    name: 'mark rekey key exchanges',
    file: 'lib/protocol/kex.js',
    find: 'self._decipher._onPayload = onKEXPayload.bind(self, { firstPacket: false });',
    replace:
      'self._decipher._onPayload = onKEXPayload.bind(self, { firstPacket: false, rekey: true });',
  },
  {
    // ... and let IGNORE, DEBUG and UNIMPLEMENTED through during one, as without strict mode
    name: 'strict KEX only for the initial exchange',
    file: 'lib/protocol/kex.js',
    find: 'if (!this._strictMode) {',
    replace: 'if (!this._strictMode || state.rekey) {',
  },
  {
    // During a rekey, connection-protocol messages (channel data, window adjusts) keep being
    // handled, as OpenSSH does (it only diverts transport messages 1-49 while keys change):
    // asyncssh sends KEXINIT and then the data that triggered it. ssh2 called that fatal.
    name: 'connection messages during a rekey',
    file: 'lib/protocol/kex.js',
    find: '      // Ensure packet is either an algorithm negotiation or KEX\n      // algorithm-specific packet\n      if (type < 20 || type > 49) {',
    replace:
      "      if (state.rekey && type > 49) {\n        if (!MESSAGE_HANDLERS)\n          MESSAGE_HANDLERS = require('./handlers.js');\n        const handler = MESSAGE_HANDLERS[type];\n        return handler && handler(this, payload);\n      }\n      if (type < 20 || type > 49) {",
  },
  {
    // A refused direct-tcpip / direct-streamlocal open carries strerror's text as sshd's does
    // ("open failed: connect failed: Connection refused"); ssh2's reject() sent '' only.
    name: 'channel open failure description',
    file: 'lib/server.js',
    find: 'const reject = () => {\n            if (replied)',
    replace: 'const reject = (description) => {\n            if (replied)',
  },
  {
    name: 'channel open failure description (send)',
    file: 'lib/server.js',
    find: "proto.channelOpenFail(info.sender, reason, '');",
    replace:
      "proto.channelOpenFail(info.sender, reason, typeof description === 'string' ? description : '');",
  },
]

/** `text` of ssh2's `file` with its patches applied; throws naming the patch that does not fit. */
export function applyPatches(file: string, text: string, patches = ssh2Patches): string {
  for (const p of patches.filter((p) => p.file === file)) {
    const at = text.indexOf(p.find)
    if (at < 0 || text.indexOf(p.find, at + 1) >= 0)
      throw new Error(
        `ssh2 patch '${p.name}': its text occurs ${at < 0 ? 'nowhere' : 'more than once'} in ssh2/${file}`,
      )
    text = text.slice(0, at) + p.replace + text.slice(at + p.find.length)
  }
  return text
}

const patchedFiles = [...new Set(ssh2Patches.map((p) => p.file))]
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll('/', '[\\\\/]')
// only the patched files, so everything else in ssh2 loads as it always does
const fileRe = new RegExp(
  `[\\\\/]node_modules[\\\\/]ssh2[\\\\/](${patchedFiles.map(escapeRe).join('|')})$`,
)

/**
 * Bun's runtime plugins (unlike the bundler) load onLoad output as an ES module, so for `bun test`
 * the CommonJS file gets its own `module` and hands it to require() as Bun's "module.exports" export.
 */
const asEsm = (cjs: string) =>
  `var module = { exports: {} }, exports = module.exports;\n${cjs}\nvar __cjs = module.exports;\nexport { __cjs as "module.exports" };\n`

/** The plugin, plus `unapplied()`: the patched files it has not loaded yet (a build checks it). */
export function ssh2PatchPlugin(
  mode: 'bundle' | 'runtime' = 'bundle',
): BunPlugin & { unapplied(): string[] } {
  const wrap = mode === 'runtime' ? asEsm : (s: string) => s
  const done = new Set<string>()
  return {
    name: 'ssh2-patches',
    unapplied: () => patchedFiles.filter((f) => !done.has(f)),
    setup(build) {
      // synchronous: an async onLoad makes require() of the module fail at run time
      build.onLoad({ filter: fileRe }, ({ path }) => {
        const file = fileRe.exec(path)![1]!.replaceAll('\\', '/')
        const text = readFileSync(path, 'utf8')
        done.add(file)
        return { contents: wrap(applyPatches(file, text)), loader: 'js' }
      })
    },
  }
}
