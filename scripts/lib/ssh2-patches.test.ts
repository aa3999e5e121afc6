import { describe, expect, test } from 'bun:test'
import { patchSource, SSH2_PATCHES } from './ssh2-patches'

const kexPath = require.resolve('ssh2/lib/protocol/kex.js')

describe('ssh2 build patches', () => {
  test('every patch applies once to the installed ssh2', async () => {
    for (const p of SSH2_PATCHES) {
      const path = require.resolve(`ssh2/${p.file}`)
      expect(patchSource(path, await Bun.file(path).text())).toContain(p.to)
    }
    const kex = patchSource(kexPath, await Bun.file(kexPath).text())
    expect(kex).toContain('if (!this._strictMode || state.rekey) {')
  })

  test('a patch whose text is gone fails the build', () => {
    expect(() => patchSource(kexPath, 'nothing to patch here')).toThrow(/expected text not found/)
  })

  test('files no patch names pass through unchanged', () => {
    expect(patchSource('/x/node_modules/ssh2/lib/client.js', 'abc')).toBe('abc')
  })
})
