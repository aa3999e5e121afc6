/**
 * Builds dist/burrow: one executable with the Bun runtime inside (needs glibc, nothing else).
 * --bytecode only works with --format=esm; without it Bun prints "Failed to generate bytecode",
 * still exits 0 and the binary dies at start, so the build runs the result before it succeeds.
 */
import { $ } from 'bun'
import type { BunPlugin } from 'bun'
import pkg from '../package.json' with { type: 'json' }

const root = new URL('..', import.meta.url).pathname
const out = `${root}dist/burrow`
const started = performance.now()

/**
 * ssh2 1.17's EXT_INFO (RFC 8308) joins two string literals without a comma, so clients read
 * `ecdsa-sha2-nistp521rsa-sha2-512` as one unknown algorithm and lose rsa-sha2-512. Fixed in
 * the bundle; the build fails if the text it fixes is no longer there (a newer ssh2).
 */
const SIG_ALGS_BROKEN = /'ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521'(\s*\+\s*)'rsa-sha2-512,/
const fixServerSigAlgs: BunPlugin = {
  name: 'ssh2-server-sig-algs',
  setup(b) {
    b.onLoad({ filter: /ssh2\/lib\/protocol\/Protocol\.js$/ }, async (args) => {
      const text = await Bun.file(args.path).text()
      if (!SIG_ALGS_BROKEN.test(text))
        throw new Error(`${args.path}: the server-sig-algs list changed; check the fix in compile.ts`)
      return { contents: text.replace(SIG_ALGS_BROKEN, (m, plus) => m.replace(`'${plus}'`, `,'${plus}'`)), loader: 'js' }
    })
  },
}

// ssh2 requires its optional native addon cpu-features inside try/catch; installed with
// --ignore-scripts it has no build/ and the bundler cannot resolve it, so leave it to runtime
// (where the require fails and ssh2 falls back, as it does under Bun anyway)
// no .env or bunfig.toml from the working directory: ssh runs ProxyCommand (and sshd runs route's
// ForceCommand) in the user's directory, and a .env there must not set burrow's environment
// (BURROW_DEBUG, NODE_TLS_REJECT_UNAUTHORIZED, …); it also saves their lookups at every start
const build = await Bun.build({
  entrypoints: [
    'src/cli.ts',
    'src/proxy-main.ts',
    'src/cli-main.ts',
    'src/commands/serve.ts',
    'src/commands/route.ts',
    'src/backends/incus/open.ts',
    'src/backends/libvirt/lookup.ts',
  ].map((e) => `${root}${e}`),
  compile: { outfile: out, autoloadDotenv: false, autoloadBunfig: false },
  minify: true,
  bytecode: true,
  format: 'esm',
  sourcemap: 'none',
  external: ['cpu-features'],
  plugins: [fixServerSigAlgs],
}).catch((err: unknown) => ({ success: false, logs: [err] }))
const log = build.logs.map(String).join('\n')
if (!build.success || /failed/i.test(log)) {
  console.error(log)
  console.error('compile: bun build failed')
  process.exit(1)
}
const version = (await $`${out} --version`.nothrow().quiet().text()).trim()
if (version !== pkg.version) {
  console.error(`compile: ${out} --version printed '${version}', expected '${pkg.version}'`)
  process.exit(1)
}
// proxy-main, cli-main, incus/open and libvirt/lookup are separate entrypoints loaded by path
// (src/core/self.ts entryUrl): prove the proxy one loads (the others: --version, tests/e2e)
const resolved = (await $`${out} proxy --resolve vsock/3 22`.nothrow().quiet().text()).trim()
if (resolved !== 'vsock/3 22') {
  console.error(`compile: ${out} proxy --resolve vsock/3 22 printed '${resolved}'`)
  process.exit(1)
}
// serve and route are separate entrypoints loaded by path (src/commands/index.ts): prove they load
for (const cmd of ['serve', 'route']) {
  const help = await $`${out} ${cmd} --help`.nothrow().quiet()
  if (help.exitCode !== 0 || !help.stdout.toString().includes(`burrow ${cmd}`)) {
    console.error(`compile: ${out} ${cmd} --help failed: ${help.stderr}`)
    process.exit(1)
  }
}
const size = Bun.file(out).size / 2 ** 20
console.error(`compile: ${out} ${version}, ${size.toFixed(0)} MiB, ${((performance.now() - started) / 1000).toFixed(1)} s`)
