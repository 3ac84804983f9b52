/**
 * Helpers of the callsign tests: run the real CLI (worker pool included), read an output tree as
 * relative path → bytes, and read the rejects parts back.
 */

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { runCli } from './run-cli.js';

/** The `--json` summary of `run callsign`. */
export interface CallsignRunSummary {
  job: string;
  rows_read: number;
  rows_valid: number;
  rows_rejected: number;
  rejected_by_reason: Record<string, number>;
  profiles: number;
  label_files: number;
  prediction_files: number;
  aggregated_rows: number;
  outputs: Record<string, string>;
  splits: number;
}

/** `run callsign --json --no-progress`; asserts exit code 0 and returns the summary (last stdout line). */
export async function runCallsignCli(
  collections: string,
  predictions: string,
  out: string,
  extra: readonly string[] = [],
): Promise<CallsignRunSummary> {
  const args = ['run', 'callsign', '--collections', collections, '--predictions', predictions, '--out', out];
  const result = await runCli([...args, '--json', '--no-progress', ...extra]);
  assert.equal(result.code, 0, `the run failed: ${result.stderr}`);
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as CallsignRunSummary;
}

/** Every file under `dir`, as '/'-separated relative path → bytes. */
export async function readTree(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    out.set(relative(dir, full).split(sep).join('/'), await readFile(full));
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Rows of one Parquet file's bytes. */
export async function parquetRows(bytes: Buffer): Promise<Record<string, unknown>[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return parquetReadObjects({ file });
}

/** The reject rows of every rejects part in a tree, with `source` cut to its base name. */
export async function rejectRows(tree: Map<string, Buffer>): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const [path, bytes] of tree) {
    if (!/^rejects\/part-\d{5}\.parquet$/.test(path)) continue;
    for (const r of await parquetRows(bytes))
      rows.push({
        source: String(r.source).split(/[/\\]/).pop(),
        line: Number(r.line),
        reason: r.reason,
        raw: r.raw,
      });
  }
  return rows;
}
