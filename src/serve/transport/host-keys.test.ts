import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadHostKeys } from './host-keys'

let dir: string
beforeAll(() => {
  dir = mkdtempSync('/tmp/burrow-hostkeys-')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('without readable system keys, one own key is generated once, private, and reused', () => {
  const state = join(dir, 'state', 'serve')
  const [first] = loadHostKeys([], state, [join(dir, 'unreadable')])
  expect(first).toMatchObject({ path: join(state, 'ssh_host_ed25519_key'), type: 'ssh-ed25519' })
  expect(statSync(first!.path).mode & 0o777).toBe(0o600)
  expect(readFileSync(`${first!.path}.pub`, 'utf8')).toStartWith('ssh-ed25519 ')
  const [again] = loadHostKeys([], state, [])
  expect(again!.pem.equals(first!.pem)).toBe(true)
})

test('readable system keys win', () => {
  const p = join(dir, 'sys')
  expect(Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ecdsa', '-N', '', '-f', p]).exitCode).toBe(0)
  expect(loadHostKeys([], join(dir, 'unused'), [join(dir, 'none'), p])).toMatchObject([
    { path: p, type: 'ecdsa-sha2-nistp256' },
  ])
})

test('explicit keys must load, with a clear error', () => {
  expect(() => loadHostKeys([join(dir, 'missing')])).toThrow(/Failed to read host key .*missing/)
  writeFileSync(join(dir, 'junk'), 'not a key')
  expect(() => loadHostKeys([join(dir, 'junk')])).toThrow(/Failed to load host key .*junk/)
})

test('an explicit OpenSSH key loads', () => {
  const p = join(dir, 'k')
  expect(Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', p]).exitCode).toBe(0)
  const [k] = loadHostKeys([p])
  expect(k).toMatchObject({ path: p, type: 'ssh-ed25519' })
  expect(k!.pem.toString()).toBe(readFileSync(p, 'utf8'))
})
