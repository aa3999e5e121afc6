/**
 * Builds dist/burrow: one executable with the Bun runtime inside (needs glibc, nothing else).
 * --bytecode only works with --format=esm; without it Bun prints "Failed to generate bytecode",
 * still exits 0 and the binary dies at start, so the build runs the result before it succeeds.
 */
import { $ } from 'bun'
import pkg from '../package.json' with { type: 'json' }
import { ssh2Patches } from './lib/ssh2-patches'

const root = new URL('..', import.meta.url).pathname
const out = `${root}dist/burrow`
const started = performance.now()
// ssh2 requires its optional native addon cpu-features inside try/catch; installed with
// --ignore-scripts it has no build/ and the bundler cannot resolve it, so leave it to runtime
// (where the require fails and ssh2 falls back, as it does under Bun anyway).
// The JS API (same options as `bun build --compile`) so the ssh2 patches apply while bundling.
const entry = (p: string) => `${root}src/${p}`
const build = await Bun.build({
  entrypoints: [entry('cli.ts'), entry('commands/serve.ts'), entry('commands/route.ts')],
  compile: { outfile: out },
  minify: true,
  bytecode: true,
  format: 'esm',
  sourcemap: 'none',
  external: ['cpu-features'],
  plugins: [ssh2Patches],
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
