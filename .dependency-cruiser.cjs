/**
 * The layers of src/ (README "Layout"): arrows only run down, and nothing imports in a cycle.
 *
 *   entry (cli.ts, cli-main.ts, main.ts, proxy-main.ts)
 *     → commands/
 *       → serve/, route/            (neither imports the other)
 *         → proxy/, incus/          (proxy may reach incus, not the reverse)
 *           → backends/             (a backend may compose a sibling: mux → unix, libvirt → vsock)
 *             → core/
 *
 * One rule per arrow that must not exist. Tests, the shared contract case and test helpers
 * (`*.test.ts`, `*.case.ts`, `testing.ts`) may reach up to what they test, so they are exempt.
 * Backends implement the contract declared in proxy/backend.ts: a type-only import of that one
 * file is the single allowed upward arrow (hono's adapters import their contract type the same way).
 * Separate entrypoints loaded by path (core/self.ts entryUrl) are late bindings, not imports: the
 * lower layer declares the interface (backends/incus `IncusOpener`) and the upper implements it.
 */
const TESTS = '(\\.test\\.ts|\\.case\\.ts|/testing\\.ts)$'
const layer = (name) => `^src/${name}/`
const ENTRY = '^src/(cli|cli-main|main|proxy-main)\\.ts$'

const forbid = (name, comment, from, to, extra = {}) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from, pathNot: TESTS },
  to: { path: to, ...extra },
})

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'a cycle makes two modules one: merge them or move the shared part down',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    forbid(
      'entry-is-a-root',
      'only an entry module imports another (cli.ts loads proxy-main and cli-main)',
      '^src/(?!(cli|cli-main|main|proxy-main)\\.ts$)',
      ENTRY,
    ),
    forbid(
      'core-is-the-bottom',
      'core/ holds primitives and imports no other layer',
      layer('core'),
      '^src/(?!core/)',
    ),
    forbid(
      'backends-below-proxy',
      'a backend imports core/ and sibling backends; of proxy/ only the contract type',
      layer('backends'),
      '^src/(proxy|incus|serve|route|commands)/',
      { pathNot: '^src/proxy/backend\\.ts$' },
    ),
    forbid(
      'backends-contract-type-only',
      'the contract in proxy/backend.ts is imported for its types only',
      layer('backends'),
      '^src/proxy/backend\\.ts$',
      { dependencyTypesNot: ['type-only'] },
    ),
    forbid(
      'incus-below-proxy',
      'the Incus client knows nothing of the proxy, serve or route',
      layer('incus'),
      '^src/(proxy|serve|route|commands)/',
    ),
    forbid(
      'proxy-below-gatekeepers',
      'proxy/ knows nothing of serve, route or the commands',
      layer('proxy'),
      '^src/(serve|route|commands)/',
    ),
    forbid(
      'serve-not-route',
      'serve and route share only what lies below them',
      layer('serve'),
      '^src/(route|commands)/',
    ),
    forbid(
      'route-not-serve',
      'serve and route share only what lies below them',
      layer('route'),
      '^src/(serve|commands)/',
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
}
