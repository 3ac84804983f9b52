/**
 * The interactions job, stage by stage: map (decode, rules 1–5, partial counts, spill) → dedup
 * (rule 6, per id partition) → correct (subtract duplicates, write rejects; per split) → merge
 * (final counts per partition) → write (clean rows joined with their counts). The job drives the stages through a task runner and
 * knows nothing of the pool behind it.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  expandInputs,
  type InputFile,
  joinUrl,
  storageFor,
  writeObject,
  type Storage,
  readCsvHeader,
  writeParquetColumns,
  planSplitRanges,
  dayText,
  int64Text,
} from 'shardflow/kernel';
import { sortedOrder } from './sort-keys.js';
import { denseCounts } from './dense-counts.js';
import { INTERACTION_COLUMNS, REJECT_REASONS, DUPLICATE_ID } from './rules.js';
import { CLEAN_CHUNK_ROWS, SUCCESS_MARKER, outputPaths, partName, type OutputName } from './outputs.js';
import type { CountPartials } from './interaction-counts.js';
import { positionBase } from './tasks.js';
import type {
  DedupResult,
  CorrectResult,
  InteractionsTask,
  MapResult,
  MergeResult,
  RejectsResult,
  SplitTask,
  WriteResult,
} from './tasks.js';

const NO_COUNTS: CountPartials = (() => {
  const empty = {
    width: 1,
    offsets: new Uint32Array(0),
    keys: new Uint32Array(0),
    hashes: new Uint32Array(0),
    counts: new Float64Array(0),
  };
  return { users: empty, products: empty, pairs: empty, days: empty };
})();
const NO_BUCKETS = Object.freeze({
  offsets: new Uint32Array(0),
  keys: new Uint32Array(0),
  pos: new Float64Array(0),
});

/** Runs a stage's tasks in parallel; results in task order. */
export interface TaskRunner {
  <R>(stage: string, tasks: InteractionsTask[]): Promise<R[]>;
  /** With several shards: runs `fn` on every shard, then waits until every shard has. */
  everyShard?(step: string, fn: () => Promise<void>): Promise<void>;
  /** With several shards: runs `fn` on shard 0; the others wait until it is done. */
  leadShard?(step: string, fn: () => Promise<void>): Promise<void>;
}

/** The PostgreSQL sink of a run shared by several shards (see coordinator/pg-sharded-loader.ts). */
export interface ShardedInteractionsLoader {
  /** Shard 0: creates the staging tables, or resumes this run's. */
  prepare(months: string[]): Promise<void>;
  /** Any shard: loads one clean part (binary COPY rows, no header or trailer) once per run. */
  loadPart(part: number, rows: Uint8Array, months: string[]): Promise<void>;
  /** Shard 0: final counts as COPY text, once per run. */
  counts(kind: 'users' | 'products' | 'daily', chunk: Uint8Array): Promise<void>;
  /** Shard 0, every part loaded: make the tables visible atomically. */
  commit(): Promise<void>;
}

/** Receives the clean rows and final counts when PostgreSQL is a sink. */
export interface InteractionsLoader {
  /** Called once before any rows, with the months ('YYYY-MM') present. */
  begin(months: string[]): Promise<void>;
  /** Clean rows in binary COPY format (rows only: no header or trailer), in input order. */
  cleanRows(chunk: Uint8Array): Promise<void>;
  /** Final counts as COPY text. */
  counts(kind: 'users' | 'products' | 'daily', chunk: Uint8Array): Promise<void>;
  /** All rows delivered: make them visible atomically. */
  commit(): Promise<void>;
}

/** Options of {@link runInteractions}. */
export interface InteractionsOptions {
  inputs: string[];
  /** `inputs` already expanded (the command keys the run id on them); default expandInputs(inputs). */
  files?: readonly InputFile[];
  out: string;
  outputs: ReadonlySet<OutputName>;
  /** Reduce partitions; default 64. */
  partitions: number;
  /** Split size in bytes; default 32 MiB. */
  splitBytes: number;
  /** Most rows in one clean part (one write task); default CLEAN_CHUNK_ROWS. */
  cleanChunkRows?: number;
  /** Directory for spill files; default the OS temp directory. */
  tmpDir?: string;
  loader?: InteractionsLoader;
  /** The PostgreSQL sink when `shard.count` > 1 (instead of `loader`). */
  shardedLoader?: ShardedInteractionsLoader;
  /** Called with the total input bytes once the plan is known, and with phase names. */
  onPlan?: (totalBytes: number) => void;
  onPhase?: (phase: string) => void;
  /**
   * Shard `index` of `count` processes sharing the work through `runTasks` (see
   * coordinator/shuffle-runner.ts); default the only one. Shard 0 writes the single-file
   * outputs and `_SUCCESS`.
   */
  shard?: { index: number; count: number };
}

export interface InteractionsSummary {
  job: 'interactions';
  rows_read: number;
  rows_valid: number;
  rows_rejected: number;
  rejected_by_reason: Record<string, number>;
  outputs: Partial<Record<OutputName, string>>;
  files: number;
  bytes: number;
  splits: number;
  /** In a sharded run: this shard, and the rows of the splits it mapped. */
  shard?: {
    index: number;
    count: number;
    rows_read: number;
    rows_valid: number;
    rejected_by_reason: Record<string, number>;
  };
}

interface PlannedSplit extends SplitTask {
  /** What its reader reports as progress: its byte range, or a gzip file's compressed size. */
  progressBytes: number;
  sourceName: string;
  columns: number[];
  fieldCount: number;
}

async function planInputs(
  options: InteractionsOptions,
): Promise<{ splits: PlannedSplit[]; bytes: number; progressBytes: number; files: number }> {
  const files = options.files ?? (await expandInputs(options.inputs));
  const splits: PlannedSplit[] = [];
  let bytes = 0;
  let progressBytes = 0;
  for (let f = 0; f < files.length; f++) {
    const { path, size } = files[f];
    const gzip = path.endsWith('.gz');
    const header = await readCsvHeader(path, INTERACTION_COLUMNS, gzip);
    const common = {
      path,
      fileIndex: f,
      gzip,
      sourceName: path,
      columns: header.indices,
      fieldCount: header.names.length,
    };
    bytes += size;
    // What the readers report as they go: a plain file's bytes after its header, a gzip file's all.
    progressBytes += gzip ? size : size - header.dataStart;
    if (gzip)
      splits.push({ ...common, start: header.dataStart, end: Infinity, aligned: true, progressBytes: size });
    else {
      for (const r of planSplitRanges(size, options.splitBytes, header.dataStart)) {
        const aligned = r.start === header.dataStart;
        splits.push({ ...common, start: r.start, end: r.end, aligned, progressBytes: r.end - r.start });
      }
    }
  }
  return { splits, bytes, progressBytes, files: files.length };
}

function monthText(m: number): string {
  return `${String(Math.floor(m / 12)).padStart(4, '0')}-${String((m % 12) + 1).padStart(2, '0')}`;
}

export async function runInteractions(
  options: InteractionsOptions,
  runTasks: TaskRunner,
): Promise<InteractionsSummary> {
  const P = options.partitions;
  const paths = outputPaths(options.out);
  const plan = await planInputs(options);
  const shard = options.shard ?? { index: 0, count: 1 };
  // A split's stages all run on the shard that owns it (see interactionsTaskOwner): its spills
  // are that shard's local files.
  const owns = (taskId: number): boolean => taskId % shard.count === shard.index;
  const lead = shard.index === 0; // writes what needs every partition: single files, _SUCCESS
  const everyShard = runTasks.everyShard ?? ((_: string, fn: () => Promise<void>) => fn());
  const leadShard =
    runTasks.leadShard ?? ((_: string, fn: () => Promise<void>) => (lead ? fn() : Promise.resolve()));
  options.onPlan?.(plan.splits.reduce((n, s, i) => n + (owns(i) ? s.progressBytes : 0), 0));
  const work = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'shardflow-'));
  const spillPathOf = (taskId: number): string => join(work, `spill-${taskId}.bin`);
  try {
    // The outputs of an earlier run go first, the completion marker before them. With several
    // shards, whose parts overwrite their own keys, the lead removes strays at the end instead:
    // a restarted shard must never delete what the others wrote.
    const store = await storageFor(options.out);
    if (lead) await store.delete(joinUrl(options.out, SUCCESS_MARKER));
    if (shard.count === 1) {
      for (const name of options.outputs) {
        if (name === 'clean' || name === 'pairs' || name === 'rejects') await store.deletePrefix(paths[name]);
        else await store.delete(paths[name]);
      }
    }

    // Part files each output directory holds when the run is done.
    const parts = { clean: 0, pairs: options.outputs.has('pairs') ? P : 0, rejects: 0 };

    // 1. map. A file in which a quoted field spans lines is read again as one split.
    const needRows = options.outputs.has('clean') || options.loader !== undefined;
    const countPairs = needRows || options.outputs.has('pairs');
    let splits = plan.splits;
    let taskCounter = 0;
    const mapTask = (s: PlannedSplit, taskId: number): InteractionsTask => ({
      stage: 'map',
      taskId,
      split: s,
      columns: s.columns,
      fieldCount: s.fieldCount,
      partitions: P,
      countPairs,
      spillRows: needRows,
      spillRejects: options.outputs.has('rejects'),
      spillPath: spillPathOf(taskId),
      chunkRows: options.cleanChunkRows ?? CLEAN_CHUNK_ROWS,
    });
    let ids = splits.map(() => taskCounter++);
    let maps = await runTasks<MapResult>(
      'map',
      splits.map((s, i) => mapTask(s, ids[i])),
    );
    const multilineFiles = new Set<number>();
    splits.forEach((s, i) => {
      if (maps[i].multiline && splits.filter((o) => o.fileIndex === s.fileIndex).length > 1)
        multilineFiles.add(s.fileIndex);
    });
    if (multilineFiles.size > 0) {
      const kept = splits
        .map((s, i) => ({ s, r: maps[i], id: ids[i] }))
        .filter((x) => !multilineFiles.has(x.s.fileIndex));
      const whole: PlannedSplit[] = [];
      for (const f of multilineFiles) {
        const first = splits.find((s) => s.fileIndex === f) as PlannedSplit;
        const last = splits.filter((s) => s.fileIndex === f).at(-1) as PlannedSplit;
        whole.push({ ...first, end: last.end });
      }
      const wholeIds = whole.map(() => taskCounter++);
      const wholeMaps = await runTasks<MapResult>(
        'map',
        whole.map((s, i) => mapTask(s, wholeIds[i])),
      );
      const all = [...kept, ...whole.map((s, i) => ({ s, r: wholeMaps[i], id: wholeIds[i] }))];
      all.sort((a, b) => a.s.fileIndex - b.s.fileIndex || a.s.start - b.s.start);
      splits = all.map((x) => x.s);
      maps = all.map((x) => x.r);
      ids = all.map((x) => x.id);
    }

    // Line numbers: the header is line 1; each split starts after the lines of the splits before it.
    const firstLine: number[] = [];
    let line = 2;
    splits.forEach((s, i) => {
      if (i === 0 || splits[i - 1].fileIndex !== s.fileIndex) line = 2;
      firstLine.push(line);
      line += maps[i].lines;
    });

    // 2. dedup, per id partition.
    options.onPhase?.('finding duplicate ids');
    const buckets = maps.map((m) => m.dedup);
    const dedups = await runTasks<DedupResult>(
      'dedup',
      Array.from({ length: P }, (_, p) => ({ stage: 'dedup', partition: p, buckets }) as InteractionsTask),
    );
    // The (id, position) buckets are done with: let them go before the next stages allocate.
    buckets.length = 0;
    for (const m of maps) m.dedup = NO_BUCKETS;
    const splitStarts = splits.map((s) => positionBase(s.fileIndex) + s.start);
    const dupsBySplit: number[][] = splits.map(() => []);
    for (const d of dedups) {
      for (const pos of d.duplicates) {
        let lo = 0;
        let hi = splitStarts.length - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (splitStarts[mid] <= pos) lo = mid;
          else hi = mid - 1;
        }
        dupsBySplit[lo].push(pos);
      }
    }
    const dups = dupsBySplit.map((list) => Float64Array.from(list.sort((a, b) => a - b)));

    parts.rejects = options.outputs.has('rejects') ? splits.length : 0;

    // 3. subtract duplicates from the counts.
    options.onPhase?.('counting');
    const rejectsWanted = options.outputs.has('rejects');
    const withDups = splits.map((_, i) => i).filter((i) => dups[i].length > 0);
    const correctionList = await runTasks<CorrectResult>(
      'correct',
      withDups.map((i): InteractionsTask => ({
        stage: 'correct',
        taskId: ids[i],
        split: splits[i],
        columns: splits[i].columns,
        partitions: P,
        countPairs,
        duplicates: dups[i],
        keepRaw: rejectsWanted,
      })),
    );
    const corrections = new Map(withDups.map((i, k) => [i, correctionList[k]]));

    // The rejects parts: their tasks run beside the merge and write stages, awaited at the end.
    const rejectsDone = rejectsWanted
      ? runTasks<RejectsResult>(
          'rejects',
          splits.map((s, i): InteractionsTask => ({
            stage: 'rejects',
            taskId: ids[i],
            spillPath: spillPathOf(ids[i]),
            duplicates: dups[i],
            duplicateRaw: corrections.get(i)?.raw ?? null,
            firstLine: firstLine[i],
            rejectsPath: joinUrl(paths.rejects, partName(i)),
            sourceName: s.sourceName,
          })),
        )
      : Promise.resolve([]);
    rejectsDone.catch(() => {}); // a failure surfaces where it is awaited, below
    const partials = maps.map((m) => m.counts);
    for (const c of correctionList) partials.push(c.counts);

    // 4. merge per partition.
    const merges = await runTasks<MergeResult>(
      'merge',
      Array.from({ length: P }, (_, p): InteractionsTask => ({
        stage: 'merge',
        partition: p,
        partials,
        rowTasks: needRows ? ids : [],
        taskCount: taskCounter,
        keepTables: needRows,
        pairsPath: options.outputs.has('pairs') ? joinUrl(paths.pairs, partName(p)) : null,
      })),
    );

    // Partial counts are merged: free them before the write stage.
    partials.length = 0;
    for (const m of maps) m.counts = NO_COUNTS;
    options.onPhase?.('writing outputs');
    const users = gather(
      merges.map((m) => m.users),
      2,
    );
    const products = gather(
      merges.map((m) => m.products),
      2,
    );
    const days = gather(
      merges.map((m) => m.days),
      1,
    );
    if (lead && options.outputs.has('users')) await writeCounts(paths.users, 'user_id', users);
    if (lead && options.outputs.has('products')) await writeCounts(paths.products, 'product_id', products);
    if (lead && options.outputs.has('daily')) {
      await writeParquetColumns(paths.daily, days.counts.length, [
        {
          name: 'day',
          kind: 'date',
          days: new Int32Array(days.keys.buffer, days.keys.byteOffset, days.keys.length),
          statistics: true,
        },
        { name: 'interactions', kind: 'count', values: days.counts },
      ]);
    }

    // 5. clean rows, joined with their counts.
    if (needRows) {
      const tables = {
        users: merges.map((m) => m.tables!.users),
        products: merges.map((m) => m.tables!.products),
      };
      const dense = {
        users: denseCounts(users.keys, users.counts),
        products: denseCounts(products.keys, products.counts),
      };
      const monthSet = new Set<number>();
      for (const m of maps) for (const month of m.months) monthSet.add(month);
      const months = [...monthSet].sort((a, b) => a - b).map(monthText);
      await options.loader?.begin(months);
      const sharedLoad = options.shardedLoader !== undefined;
      if (options.shardedLoader) await leadShard('pg-prepare', () => options.shardedLoader!.prepare(months));
      // Write tasks cover ranges of each split's spilled rows, in input order, one clean part each.
      const writeTasks: InteractionsTask[] = [];
      parts.clean = 0;
      const chunkRows = options.cleanChunkRows ?? CLEAN_CHUNK_ROWS;
      for (let i = 0; i < splits.length; i++) {
        // This split's final pair counts: its section of every partition's (MergeResult.pairRows)
        // end to end; only a split this shard writes needs them.
        const t = ids[i];
        const pairStarts = new Uint32Array(P);
        let pairCounts: Uint32Array = new Uint32Array(0);
        if (owns(t)) {
          let n = 0;
          for (let p = 0; p < P; p++) {
            pairStarts[p] = n;
            n += merges[p].pairRows.offsets[t + 1] - merges[p].pairRows.offsets[t];
          }
          pairCounts = new Uint32Array(new SharedArrayBuffer(n * 4));
          for (let p = 0; p < P; p++) {
            const r = merges[p].pairRows;
            pairCounts.set(r.counts.subarray(r.offsets[t], r.offsets[t + 1]), pairStarts[p]);
          }
        }
        for (let from = 0; from < maps[i].valid || from === 0; from += chunkRows) {
          const c = from / chunkRows;
          const pairCursor = maps[i].pairCursors.slice(c * P, (c + 1) * P);
          for (let p = 0; p < P; p++) pairCursor[p] += pairStarts[p];
          writeTasks.push({
            stage: 'write',
            taskId: ids[i],
            spillPath: spillPathOf(ids[i]),
            from,
            to: Math.min(maps[i].valid, from + chunkRows),
            part: parts.clean++,
            duplicates: dups[i],
            partitions: P,
            tables,
            pairCounts,
            pairCursor,
            dense,
            cleanDir: options.outputs.has('clean') ? paths.clean : null,
            copyRows: options.loader !== undefined || sharedLoad,
            ...(sharedLoad ? { copyPath: `${spillPathOf(ids[i])}.copy-${parts.clean - 1}` } : {}),
          });
        }
      }
      // The write tasks hold their splits' pair counts now: let the merge stage's copies go.
      for (const m of merges) m.pairRows = { offsets: new Uint32Array(0), counts: new Uint32Array(0) };
      if (options.loader) {
        // A sliding window: at most `window` tasks' rows exist (in a worker or waiting here) while
        // PostgreSQL catches up; the next task starts as soon as the oldest one is handed over.
        const window = 2;
        const pending: Promise<WriteResult[]>[] = [];
        let submitted = 0;
        const submit = () => pending.push(runTasks<WriteResult>('write', [writeTasks[submitted++]]));
        while (submitted < Math.min(window, writeTasks.length)) submit();
        while (pending.length > 0) {
          const [r] = await (pending.shift() as Promise<WriteResult[]>);
          if (submitted < writeTasks.length) submit();
          for (const chunk of r.copy ?? []) await options.loader.cleanRows(chunk);
        }
        await options.loader.counts('users', countsCopy(users));
        await options.loader.counts('products', countsCopy(products));
        await options.loader.counts('daily', countsCopy(days, true));
        await options.loader.commit();
      } else {
        await runTasks<WriteResult>('write', writeTasks);
      }
      const sharded = options.shardedLoader;
      if (sharded) {
        // Each shard loads the parts it wrote (one transaction and ledger row each), then shard 0
        // loads the counts and swaps the tables in once every shard is done.
        await everyShard('pg-load', async () => {
          for (const t of writeTasks) {
            if (t.stage !== 'write' || t.copyPath === undefined || !owns(t.taskId)) continue;
            await sharded.loadPart(t.part, await readFile(t.copyPath), months);
            await rm(t.copyPath, { force: true });
          }
        });
        await leadShard('pg-commit', async () => {
          await sharded.counts('users', countsCopy(users));
          await sharded.counts('products', countsCopy(products));
          await sharded.counts('daily', countsCopy(days, true));
          await sharded.commit();
        });
      }
    }

    await rejectsDone;
    const rejected: Record<string, number> = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0]));
    let rowsRead = 0;
    let valid = 0;
    for (const m of maps) {
      rowsRead += m.records;
      valid += m.valid;
      m.rejected.forEach((n, r) => (rejected[REJECT_REASONS[r]] += n));
    }
    const dupCount = dups.reduce((n, d) => n + d.length, 0);
    rejected[REJECT_REASONS[DUPLICATE_ID]] += dupCount;
    if (lead && shard.count > 1) await removeStrays(store, paths, options.outputs, parts);
    if (lead) await writeObject(joinUrl(options.out, SUCCESS_MARKER), []); // every output is complete
    const outputs: Partial<Record<OutputName, string>> = {};
    for (const name of options.outputs) outputs[name] = paths[name];
    const own = {
      rows_read: 0,
      rows_valid: 0,
      rejected_by_reason: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])),
    };
    maps.forEach((m, i) => {
      if (!owns(ids[i])) return;
      own.rows_read += m.records;
      own.rows_valid += m.valid - dups[i].length;
      m.rejected.forEach((n, r) => (own.rejected_by_reason[REJECT_REASONS[r]] += n));
      own.rejected_by_reason[REJECT_REASONS[DUPLICATE_ID]] += dups[i].length;
    });
    return {
      job: 'interactions',
      rows_read: rowsRead,
      rows_valid: valid - dupCount,
      rows_rejected: rowsRead - (valid - dupCount),
      rejected_by_reason: rejected,
      outputs,
      files: plan.files,
      bytes: plan.bytes,
      splits: splits.length,
      ...(shard.count > 1 ? { shard: { index: shard.index, count: shard.count, ...own } } : {}),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface Entries {
  keys: Uint32Array;
  counts: Float64Array;
}

/** Concatenates per-partition entries and sorts them by key. */
function gather(parts: Entries[], width: number): Entries {
  const n = parts.reduce((a, p) => a + p.counts.length, 0);
  const keys = new Uint32Array(n * width);
  const counts = new Float64Array(n);
  let o = 0;
  for (const p of parts) {
    keys.set(p.keys, o * width);
    counts.set(p.counts, o);
    o += p.counts.length;
  }
  const order = sortedOrder(keys, width, n);
  const sk = new Uint32Array(n * width);
  const sc = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < width; k++) sk[i * width + k] = keys[order[i] * width + k];
    sc[i] = counts[order[i]];
  }
  return { keys: sk, counts: sc };
}

async function writeCounts(path: string, keyName: string, e: Entries): Promise<void> {
  await writeParquetColumns(path, e.counts.length, [
    { name: keyName, kind: 'int64', words: e.keys, statistics: true },
    { name: 'interaction_count', kind: 'count', values: e.counts },
  ]);
}

function countsCopy(e: Entries, days = false): Uint8Array {
  const lines: string[] = [];
  for (let i = 0; i < e.counts.length; i++) {
    const key = days ? dayText(e.keys[i] | 0) : int64Text(e.keys[2 * i], e.keys[2 * i + 1]);
    lines.push(`${key}\t${e.counts[i]}\n`);
  }
  return Buffer.from(lines.join(''));
}

/**
 * Deletes part files of the outputs that this run did not write (left by an earlier run with
 * more splits or partitions), so each output holds exactly this run's parts.
 */
async function removeStrays(
  store: Storage,
  paths: Record<OutputName, string>,
  outputs: ReadonlySet<OutputName>,
  parts: Record<'clean' | 'pairs' | 'rejects', number>,
): Promise<void> {
  for (const name of ['clean', 'pairs', 'rejects'] as const) {
    if (!outputs.has(name)) continue;
    const keep = new Set(Array.from({ length: parts[name] }, (_, i) => joinUrl(paths[name], partName(i))));
    for (const o of await store.list(paths[name])) if (!keep.has(o.url)) await store.delete(o.url);
  }
}
