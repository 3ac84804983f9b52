/**
 * Shared helpers of the interactions end-to-end tests: spawn the real CLI (piscina pool included),
 * read its JSON summary and its Parquet outputs, and make per-test temporary directories.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetReadObjects } from 'hyparquet';

/** The compiled CLI (`dist/coordinator/cli.js`). */
export const CLI = fileURLToPath(new URL('../../coordinator/cli.js', import.meta.url));

/** The source fixtures folder (`test/fixtures/`); tests never read outside the repository. */
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

/** What a CLI process left behind. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The `--json` summary of `run interactions`. */
export interface RunSummary {
  job: string;
  rows_read: number;
  rows_valid: number;
  rows_rejected: number;
  rejected_by_reason: Record<string, number>;
  outputs: Record<string, string>;
  splits: number;
  seconds: number;
}

/** One Parquet row as hyparquet returns it (int64 as bigint, timestamps and dates as Date). */
export type Row = Record<string, unknown>;

/** Runs the CLI with `args`; resolves with the exit code instead of rejecting on failure. */
export function runCli(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') return reject(err);
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

/**
 * `run interactions --json --no-progress` on `inputs` into `out`, plus `extra` flags; asserts exit
 * code 0 and returns the summary (the last stdout line).
 */
export async function runInteractionsCli(
  inputs: readonly string[],
  out: string,
  extra: readonly string[] = [],
): Promise<RunSummary> {
  const args = ['run', 'interactions', ...inputs.flatMap((i) => ['--input', i])];
  const result = await runCli([...args, '--out', out, '--json', '--no-progress', ...extra]);
  assert.equal(result.code, 0, `the run failed: ${result.stderr}`);
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as RunSummary;
}

/** Every row of one Parquet file. */
export async function readParquetRows(file: string): Promise<Row[]> {
  const bytes = await readFile(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return parquetReadObjects({ file: buffer });
}

/** Rows of every `part-NNNNN.parquet` of a directory, concatenated in part order. */
export async function readParts(dir: string): Promise<Row[]> {
  const parts = (await readdir(dir)).filter((f) => /^part-\d{5}\.parquet$/.test(f)).sort();
  let rows: Row[] = [];
  for (const part of parts) rows = rows.concat(await readParquetRows(join(dir, part))); // no spread: parts can be large
  return rows;
}

/** A fresh temporary directory, removed after the test. */
export async function tempDir(
  t: { after: (fn: () => Promise<void>) => void },
  prefix = 'shardflow-test-',
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A JSON text of a row (bigints as `123n`, Dates as ISO text), for sorting and comparing row sets. */
export function rowKey(row: Row): string {
  return JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** The rows as sorted keys (see {@link rowKey}): equal multisets give equal arrays. */
export function sortedRowKeys(rows: readonly Row[]): string[] {
  return rows.map(rowKey).sort();
}

/** Every file under `root`, as paths relative to it, sorted. */
export async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}
