/**
 * Output of `route ctl show`: an aligned table for people (numbers right-aligned), CSV without a
 * header row for scripts (as sshproxyctl -csv), or JSON objects keyed like the table's columns.
 */
export type Cell = string | number
export interface Table {
  columns: string[]
  rows: Cell[][]
  /** a totals row under the table (table output only) */
  footer?: Cell[]
}

export type Format = 'table' | 'csv' | 'json'

const csvCell = (c: Cell) => {
  const s = String(c)
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

const key = (column: string) =>
  column
    .replace(/^# of /, 'n_')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/_$/, '')
    .toLowerCase()

export function render(t: Table, format: Format): string {
  if (format === 'json') {
    return `${JSON.stringify(
      t.rows.map((r) => Object.fromEntries(t.columns.map((c, i) => [key(c), r[i]]))),
      null,
      2,
    )}\n`
  }
  if (format === 'csv') return t.rows.map((r) => `${r.map(csvCell).join(',')}\n`).join('')
  const all = [t.columns, ...t.rows, ...(t.footer ? [t.footer] : [])]
  const widths = t.columns.map((_, i) => Math.max(...all.map((r) => String(r[i] ?? '').length)))
  const numeric = t.columns.map(
    (_, i) => t.rows.length > 0 && t.rows.every((r) => typeof r[i] === 'number'),
  )
  const line = (r: Cell[]) =>
    r
      .map((c, i) => (numeric[i] ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  const out = [line(t.columns), rule, ...t.rows.map(line)]
  if (t.footer) out.push(rule, line(t.footer))
  return `${out.join('\n')}\n`
}

/** Bytes per second as sshproxyctl prints bandwidth. */
export function rate(bytesPerSecond: number): string {
  const kb = bytesPerSecond / 1000
  return kb < 1000 ? `${Math.round(kb)} kB/s` : `${(kb / 1000).toFixed(1)} MB/s`
}

export function time(ms: number): string {
  if (!ms) return '-'
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}
