/** Renders rows as an aligned text table for people (numbers right-aligned). */
export function formatTable(rows: readonly Record<string, unknown>[], columns?: string[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = columns ?? Object.keys(rows[0]);
  const cells = rows.map((r) => cols.map((c) => String(r[c] ?? '')));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const numeric = cols.map((_, i) => cells.every((row) => /^-?\d+(\.\d+)?$/.test(row[i])));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(cols), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** What every job's summary has in common, for {@link formatSummary}. */
export interface SummaryLike {
  rows_read: number;
  rows_valid: number;
  rows_rejected: number;
  rejected_by_reason: Record<string, number>;
  outputs: Record<string, string>;
  seconds: number;
}

/**
 * A run's summary for people: one `label  value` line each, labels padded to the longest so a
 * long reason never runs into its count; `extra` lines (e.g. profiles) after the rejects.
 */
export function formatSummary(s: SummaryLike, extra: readonly [string, string | number][] = []): string {
  const rows: [string, string | number][] = [
    ['rows read', s.rows_read],
    ['rows valid', s.rows_valid],
    ['rows rejected', s.rows_rejected],
    ...Object.entries(s.rejected_by_reason).map(([r, n]): [string, number] => [`  ${r}`, n]),
    ...extra,
    ...Object.entries(s.outputs).map(([name, path]): [string, string] => [`output ${name}`, path]),
    ['seconds', s.seconds],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.map(([label, value]) => `${label.padEnd(width)}${value}`).join('\n');
}
