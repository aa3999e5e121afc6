/**
 * The one YAML loader of burrow's config files (route.yaml, create-config.yaml): parses with
 * yaml's node tree and line counter so every later check (schema.ts) can say file:line:col, and
 * turns yaml's own first syntax error into one `Failed to load FILE:LINE:COL: reason` line.
 */
import type { Node as YamlNode } from 'yaml'
import { LineCounter, parseDocument } from 'yaml'
import { fail } from './errors'
import type { Where } from './schema'

export interface LoadedYaml {
  /** the document's root node; null for an empty file */
  root: YamlNode | null
  /** what schema.ts needs to name a node's position */
  where: Where
}

export function loadYaml(text: string, file: string): LoadedYaml {
  const lines = new LineCounter()
  // uniqueKeys: false because yaml's own check compares each key with every earlier one
  // (quadratic: 40k keys took 7.8 s); checkObject and friends check with a Set instead
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false })
  const err = doc.errors[0]
  if (err) {
    const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0])
    const reason = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
    fail(`load ${file}${pos ? `:${pos.line}:${pos.col}` : ''}`, reason)
  }
  return { root: doc.contents as YamlNode | null, where: { file, lines } }
}
