import { describe, expect, test } from 'bun:test'
import { loadYaml } from './yaml'

describe('loadYaml', () => {
  test.each([
    ['a: [1, 2\n', 'Failed to load f.yaml:2:1: '],
    ['a: 1\na: 2\n', undefined],
    ['a:\n\t- b\n', 'Failed to load f.yaml:2:1: '],
    ['"open\n', 'Failed to load f.yaml:2:1: Missing closing'],
  ])('%p: %p', (text, error) => {
    if (error === undefined) expect(loadYaml(text, 'f.yaml').root).not.toBeNull()
    else {
      expect(() => loadYaml(text, 'f.yaml')).toThrow(error)
      try {
        loadYaml(text, 'f.yaml')
      } catch (e) {
        expect((e as Error).message).not.toContain('\n')
        expect((e as Error).message).not.toMatch(/at line \d+, column \d+/)
      }
    }
  })

  test('an empty file has a null root and a position finder', () => {
    const { root, where } = loadYaml('', 'e.yaml')
    expect(root).toBeNull()
    expect(where.file).toBe('e.yaml')
  })
})
