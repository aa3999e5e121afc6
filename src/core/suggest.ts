/** "Did you mean …?" for unknown prefixes, domain names, config keys. */

/** Levenshtein edit distance. */
export function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length]!
}

/** Candidates within `maxDistance` edits of `word`, closest first. */
export function closest(word: string, candidates: Iterable<string>, maxDistance = 2): string[] {
  return [...candidates]
    .map((c) => ({ c, d: distance(word, c) }))
    .filter((x) => x.d <= maxDistance)
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .map((x) => x.c)
}
