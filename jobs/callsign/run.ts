/**
 * The callsign job (issue #5), stage by stage: plan (both inputs cut into byte-range splits) → map
 * (per split: normalise, validate, group by partition and profile, fold session partials, spill) →
 * reduce (per partition: write each profile's files one at a time, merge the session partials, run
 * the report's checks) → outputs (aggregated rows, report, rejects with global line numbers). The
 * job drives the stages through a task runner and knows nothing of the pool behind it.
 */

import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinUrl, planSplitRanges, storageFor, storageOptions, type JobInputFile } from 'shardflow/kernel';
import { compare, compareNullable } from './map-stage.js';
import { REJECT_REASONS } from './normalize-record.js';
import {
  CALLSIGN_OUTPUT_DIRS,
  REJECTS_PART_ROWS,
  callsignOutputs,
  rejectsPartName,
  sessionRow,
  writeAggregated,
  type AggregatedColumns,
  writeObject,
  writeRejectsPart,
  type RejectRow,
} from './outputs.js';
import {
  emptyAggregatedRows,
  type CallsignMapResult,
  type CallsignReduceResult,
  type CallsignSplit,
  type CallsignTask,
  type SplitCounts,
} from './tasks.js';
import type { SessionRow } from './session-partial.js';
import { buildReport, type ValidationReport } from './validation-report.js';

/** Runs a stage's tasks in parallel; results in task order. */
export type CallsignTaskRunner = <R>(stage: string, tasks: CallsignTask[]) => Promise<R[]>;

/** Options of {@link runCallsign}. */
export interface CallsignOptions {
  /** The collections files, expanded (the engine expands `--collections`), in input order. */
  collections: readonly JobInputFile[];
  /** The predictions files, expanded, in input order. */
  predictions: readonly JobInputFile[];
  /** Output root: a local directory or an s3:// prefix. */
  out: string;
  /** Reduce partitions (profile id hash mod P). */
  partitions: number;
  /** Split size in bytes. */
  splitBytes: number;
  /** Directory for the spill files; default the OS temp directory. */
  tmpDir?: string;
  /** Called with the total input bytes once the plan is known, and with phase names. */
  onPlan?: (totalBytes: number) => void;
  onPhase?: (phase: string) => void;
  /** Called with each split's counts as its map task finishes (the run's metrics). */
  onSplitDone?: (counts: SplitCounts) => void;
  /** Where the aggregated rows and the rejects go besides the files (PostgreSQL tables). */
  tables?: CallsignTables;
}

/**
 * A second home for the aggregated rows and the rejects, fed part by part in output order (the
 * same parts for the same input, so a sink can load each part once).
 */
export interface CallsignTables {
  sessions(part: number, rows: readonly SessionRow[]): Promise<void>;
  rejects(part: number, rows: readonly RejectRow[]): Promise<void>;
}

/** Aggregated rows per {@link CallsignTables.sessions} part. */
export const SESSION_PART_ROWS = 65_536;

export interface CallsignSummary {
  job: 'callsign';
  /** Non-blank lines read (both files); rows_valid + rows_rejected. */
  rows_read: number;
  rows_valid: number;
  rows_rejected: number;
  lines_blank: number;
  rejected_by_reason: Record<string, number>;
  profiles: number;
  label_files: number;
  prediction_files: number;
  aggregated_rows: number;
  rejects_files: number;
  outputs: ReturnType<typeof callsignOutputs>;
  files: number;
  bytes: number;
  splits: number;
}

/** Both inputs' files, collections first, cut into splits. */
function planInputs(options: CallsignOptions) {
  const files = [
    ...options.collections.map((info) => ({ kind: 'collections' as const, info })),
    ...options.predictions.map((info) => ({ kind: 'predictions' as const, info })),
  ];
  const splits: CallsignSplit[] = [];
  let bytes = 0;
  files.forEach(({ kind, info }, fileIndex) => {
    bytes += info.size;
    for (const r of planSplitRanges(info.size, options.splitBytes))
      splits.push({ kind, url: info.path, fileIndex, start: r.start, end: r.end });
  });
  return { splits, bytes, files: files.length };
}

export async function runCallsign(
  options: CallsignOptions,
  runTasks: CallsignTaskRunner,
): Promise<{ summary: CallsignSummary; report: ValidationReport }> {
  const P = options.partitions;
  const urls = callsignOutputs(options.out);
  const plan = planInputs(options);
  options.onPlan?.(plan.bytes);
  const storage = await storageFor(options.out);
  const storageConfig = storageOptions();
  const work = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'shardflow-callsign-'));
  try {
    // A rerun never mixes files of two runs: remove what this run writes first.
    for (const name of CALLSIGN_OUTPUT_DIRS) await storage.deletePrefix(joinUrl(options.out, name));

    // 1. map.
    const spillPaths = plan.splits.map((_, i) => join(work, `split-${i}.spill`));
    // One task at a time through the runner, so each split counts in the metrics as it finishes.
    const maps = await Promise.all(
      plan.splits.map(async (split, i) => {
        const task: CallsignTask = {
          stage: 'map',
          taskId: i,
          split,
          partitions: P,
          spillPath: spillPaths[i],
          storage: storageConfig,
        };
        const [result] = await runTasks<CallsignMapResult>('map', [task]);
        options.onSplitDone?.(result.counts);
        return result;
      }),
    );

    // 2. reduce, per partition.
    options.onPhase?.('writing profiles');
    const reduces = await runTasks<CallsignReduceResult>(
      'reduce',
      Array.from({ length: P }, (_, p): CallsignTask => ({
        stage: 'reduce',
        partition: p,
        splits: plan.splits.map((s, i) => ({
          kind: s.kind,
          spillPath: spillPaths[i],
          section: [maps[i].sections[p], maps[i].sections[p + 1]],
        })),
        out: options.out,
        storage: storageConfig,
      })),
    );

    // 3. aggregated rows, sorted across partitions.
    options.onPhase?.('writing aggregates');
    // Columns, not one object per row: the rows are the main process's largest holding.
    const columns = concatColumns(reduces.map((r) => r.rows));
    const order = new Uint32Array(columns.profile.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    const { profile, session } = columns;
    order.sort((a, b) => compare(profile[a], profile[b]) || compareNullable(session[a], session[b]));
    await writeAggregated(storage, options.out, columns, order);
    if (options.tables) await loadSessions(options.tables, columns, order);

    // 4. report and rejects (line numbers: each split starts after the lines of its file's earlier splits).
    const report = buildReport(
      plan.splits.map((s, i) => ({ kind: s.kind, counts: maps[i].counts })),
      reduces,
    );
    await writeObject(storage, urls.report, Buffer.from(`${JSON.stringify(report, null, 2)}\n`));
    const rejectsFiles = await writeRejects(plan.splits, maps, spillPaths, options.out, options.tables);

    const rejected: Record<string, number> = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0]));
    for (const m of maps) m.counts.rejected.forEach((n, r) => (rejected[REJECT_REASONS[r]] += n));
    const f = report.files;
    return {
      report,
      summary: {
        job: 'callsign',
        rows_read: f.collections.rows_read + f.predictions.rows_read,
        rows_valid: f.collections.accepted + f.predictions.accepted,
        rows_rejected: f.collections.rejected + f.predictions.rejected,
        lines_blank: f.collections.blank_lines + f.predictions.blank_lines,
        rejected_by_reason: rejected,
        profiles: countProfiles(reduces),
        label_files: reduces.reduce((n, r) => n + r.labelFiles, 0),
        prediction_files: reduces.reduce((n, r) => n + r.predictionFiles, 0),
        aggregated_rows: order.length,
        rejects_files: rejectsFiles,
        outputs: urls,
        files: plan.files,
        bytes: plan.bytes,
        splits: plan.splits.length,
      },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The partitions' aggregated rows as one set of columns (partition after partition). */
function concatColumns(parts: readonly AggregatedColumns[]): AggregatedColumns {
  const all: AggregatedColumns = emptyAggregatedRows();
  for (const key of Object.keys(all) as (keyof AggregatedColumns)[])
    (all[key] as unknown[]) = ([] as unknown[]).concat(...parts.map((p) => p[key]));
  return all;
}

/** The aggregated rows, in output order, to `tables` in parts of {@link SESSION_PART_ROWS}. */
async function loadSessions(tables: CallsignTables, c: AggregatedColumns, order: Uint32Array): Promise<void> {
  for (let part = 0, at = 0; at < order.length; part++, at += SESSION_PART_ROWS) {
    const rows = Array.from(order.subarray(at, at + SESSION_PART_ROWS), (i) => sessionRow(c, i));
    await tables.sessions(part, rows);
  }
}

function countProfiles(reduces: readonly CallsignReduceResult[]): number {
  // A profile hashes to one partition, so the partitions' counts add up.
  return reduces.reduce((n, r) => n + r.profiles, 0);
}

/** Rejects parts of at most REJECTS_PART_ROWS rows, in input order, with 1-based line numbers. */
async function writeRejects(
  splits: readonly CallsignSplit[],
  maps: readonly CallsignMapResult[],
  spillPaths: readonly string[],
  out: string,
  tables: CallsignTables | undefined,
): Promise<number> {
  const storage = await storageFor(out);
  const dir = callsignOutputs(out).rejects;
  let batch: RejectRow[] = [];
  let parts = 0;
  const flush = async () => {
    await writeRejectsPart(storage, joinUrl(dir, rejectsPartName(parts)), batch);
    await tables?.rejects(parts, batch);
    parts++;
    batch = [];
  };
  let line = 1;
  for (let i = 0; i < splits.length; i++) {
    if (i === 0 || splits[i - 1].fileIndex !== splits[i].fileIndex) line = 1;
    const firstLine = line;
    line += maps[i].counts.lines;
    const [start, end] = maps[i].rejects;
    if (end - start <= 2) continue; // "[]"
    const list = JSON.parse(await readRange(spillPaths[i], start, end)) as [number, string, string][];
    for (const [index, reason, raw] of list) {
      batch.push({ source: splits[i].url, line: firstLine + index, reason, raw });
      if (batch.length >= REJECTS_PART_ROWS) await flush();
    }
  }
  if (batch.length > 0) await flush();
  return parts;
}

/** Bytes [start, end) of a local spill file as text. */
async function readRange(path: string, start: number, end: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(end - start);
    const { bytesRead } = await handle.read(buf, 0, buf.length, start);
    return buf.toString('utf8', 0, bytesRead);
  } finally {
    await handle.close();
  }
}
