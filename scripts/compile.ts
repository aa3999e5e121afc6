/**
 * Builds dist/burrow: one executable with the Bun runtime inside (needs glibc, nothing else).
 * --bytecode only works with --format=esm; without it Bun prints "Failed to generate bytecode",
 * still exits 0 and the binary dies at start, so the build runs the result before it succeeds.
 */
import { $ } from 'bun'
import pkg from '../package.json' with { type: 'json' }
import { ssh2PatchPlugin } from './ssh2-patches'

const root = new URL('..', import.meta.url).pathname
const out = `${root}dist/burrow`
const started = performance.now()
const patches = ssh2PatchPlugin()
// no .env or bunfig.toml from the working directory: ssh runs ProxyCommand (and sshd runs route's
// ForceCommand) in the user's directory, where a .env could set burrow's environment
// (BURROW_DEBUG, NODE_TLS_REJECT_UNAUTHORIZED, …) and a bunfig `preload` would run the user's code
// instead of route (docs/route.md); it also saves their lookups at every start
const build = await Bun.build({
  entrypoints: [
    'src/cli.ts',
    'src/cli-main.ts',
    'src/commands/serve.ts',
    'src/commands/route.ts',
    'src/incus/open.ts',
    'src/backends/libvirt/lookup.ts',
  ].map((e) => `${root}${e}`),
  compile: { outfile: out, autoloadDotenv: false, autoloadBunfig: false },
  minify: true,
  bytecode: true,
  format: 'esm',
  sourcemap: 'none',
  // ssh2 requires its optional native addon cpu-features inside try/catch; installed with
  // --ignore-scripts it has no build/ and the bundler cannot resolve it, so leave it to runtime
  // (where the require fails and ssh2 falls back, as it does under Bun anyway)
  external: ['cpu-features'],
  plugins: [patches],
  throw: false,
})
const log = build.logs.map(String).join('\n')
if (!build.success || /failed/i.test(log)) {
  console.error(log)
  console.error('compile: bun build failed')
  process.exit(1)
}
if (patches.unapplied().length) {
  console.error(
    `compile: ssh2 patches not applied (file never loaded): ${patches.unapplied().join(', ')}`,
  )
  process.exit(1)
}
const version = (await $`${out} --version`.nothrow().quiet().text()).trim()
if (version !== pkg.version) {
  console.error(`compile: ${out} --version printed '${version}', expected '${pkg.version}'`)
  process.exit(1)
}
// cli-main, incus/open and libvirt/lookup are separate entrypoints loaded by path (src/core/self.ts
// entryUrl); the proxy is in the entry itself: prove it runs (the others: --version, tests/e2e)
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
console.error(
  `compile: ${out} ${version}, ${size.toFixed(0)} MiB, ${((performance.now() - started) / 1000).toFixed(1)} s`,
)
