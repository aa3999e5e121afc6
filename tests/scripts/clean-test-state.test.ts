/**
 * scripts/clean-test-state removes what earlier runs left, under CI before every run; on a shared
 * host it must take only what carries the suites' prefixes. A dry run lists what it would remove
 * (a real run here would take the other suites' containers), with things of both kinds present.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { DEBIAN_IMAGE, incus, incusAvailable } from '../../src/incus/testing'

const ROOT = join(import.meta.dir, '../..')
const OURS = { user: 'brt-cleanprobe', instance: 'bsz-cleanprobe', project: 'bsz-cleanprobe' }
const OTHERS = { user: 'cleanprobe-keep', instance: 'keep-cleanprobe', project: 'keep-cleanprobe' }

const sh = (...argv: string[]) => Bun.spawnSync(argv, { stdout: 'pipe', stderr: 'pipe' })

async function remove() {
  for (const u of [OURS.user, OTHERS.user]) sh('userdel', u)
  for (const [i, p] of [
    [OURS.instance, 'default'],
    [OTHERS.instance, OTHERS.project],
  ] as const)
    await incus('delete', '--force', '--project', p, i).catch(() => {})
  for (const p of [OURS.project, OTHERS.project])
    await incus('project', 'delete', p).catch(() => {})
}

describe.skipIf(!incusAvailable())('scripts/clean-test-state', () => {
  let listed = ''
  beforeAll(async () => {
    await remove()
    for (const u of [OURS.user, OTHERS.user])
      expect(sh('useradd', '--system', '--no-create-home', u).exitCode).toBe(0)
    for (const p of [OURS.project, OTHERS.project])
      await incus(
        'project',
        'create',
        p,
        '-c',
        'features.images=false',
        '-c',
        'features.profiles=false',
      )
    await incus('init', DEBIAN_IMAGE, OURS.instance)
    await incus('init', DEBIAN_IMAGE, OTHERS.instance, '--project', OTHERS.project)
    const r = sh('bash', join(ROOT, 'scripts/clean-test-state'), '--dry-run')
    expect(r.exitCode).toBe(0)
    listed = r.stderr.toString()
  }, 60_000)
  afterAll(remove)

  test("lists the suites' own user, instance and project", () => {
    expect(listed).toContain(`user ${OURS.user}\n`)
    expect(listed).toContain(`instance ${OURS.instance} (project default)\n`)
    expect(listed).toContain(`project ${OURS.project}\n`)
  })

  test('lists nothing else: an instance in a foreign project, a foreign user or project', () => {
    expect(listed).not.toContain(OTHERS.user)
    expect(listed).not.toContain(OTHERS.instance)
    expect(listed).not.toContain(OTHERS.project)
    expect(listed).not.toMatch(/^clean-test-state: project default$/m)
  })

  test('a dry run removes nothing', async () => {
    expect(sh('id', OURS.user).exitCode).toBe(0)
    expect(await incus('list', '--format', 'csv', '-c', 'n', OURS.instance)).toContain(
      OURS.instance,
    )
  })
})
