/**
 * The chunker's run (issue #11, X; seed 001's "Mechanism X"): read the pointer, find record
 * `pointer` of the input (scanning from its start: a record's place depends on every quote before
 * it), and write the records from there as chunks of `--rows`, paced by `--every`, in file order
 * or, with `--order-by`, in one column's order (an external sort first, once per run). Without
 * `--follow` it ends at the end of the input, the last chunk short; with it, it takes only whole
 * chunks of terminated records and waits for the input to grow until stopped.
 */

import { performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { InputError, UsageError } from 'shardflow';
import {
  ExternalSort,
  followLoop,
  isS3Url,
  storageFor,
  type JobInputFile,
  type KernelContext,
  type KernelSummary,
} from 'shardflow/kernel';
import { Chunker } from './chunker.js';
import { checkOptions, type BankChunkOptions, type CheckedOptions } from './options.js';
import { chunksPointer, pgPointer, type ChunkPointer } from './pointer.js';
import { fieldBytes, RecordSplitter } from './records.js';

/** Bytes split between two checks of the sort's budget (see chunkSorted). */
const SORT_SLICE = 16 * 1024;

/** What reading and chunking did, for the summary. */
interface ChunkRun {
  chunker: Chunker | null;
  blankLines: number;
  /** With --order-by: the sorted runs spilled to disk (0: the input fit in --sort-memory). */
  sortRuns?: number;
}

export async function runBankChunk(ctx: KernelContext<BankChunkOptions>): Promise<KernelSummary> {
  const startedAt = performance.now();
  const o = checkOptions(ctx.options);
  const file = oneInput(ctx);
  if (ctx.shard.count > 1)
    throw new UsageError('bank-chunk runs in one process: --shard/--shards are not for it');
  const source = `${isS3Url(file.path) ? file.path : resolve(file.path)}${o.orderBy === null ? '' : `#order-by=${o.orderBy}`}`;
  const pointer: ChunkPointer =
    ctx.pg === undefined
      ? chunksPointer(ctx.out)
      : await pgPointer(await ctx.openSql(join(ctx.scratch, 'pg')), ctx.pg.schema, source);
  try {
    const before = await pointer.read();
    const m = metrics(ctx);
    m.pointer.set(undefined, before);
    ctx.onPlan(file.size);
    ctx.onPhase(o.orderBy === null ? 'chunk' : 'sort');
    const chunkerFor = (header: Uint8Array) =>
      new Chunker({
        out: ctx.out,
        header,
        rows: o.rows,
        everyMs: o.everyMs,
        startedAt,
        first: before,
        pointer,
        signal: ctx.signal,
        onChunk: (records, at) => {
          m.chunks.inc();
          m.records.inc(undefined, records);
          m.pointer.set(undefined, at);
          ctx.recordRows({ rowsRead: records, rowsValid: records, rejected: {} });
        },
      });
    const run =
      o.orderBy === null
        ? await chunkInFileOrder(ctx, file, o, before, chunkerFor)
        : await chunkSorted(ctx, file, o, o.orderBy, before, chunkerFor);
    const after = run.chunker?.next ?? before;
    return {
      rows_read: after - before,
      rows_valid: after - before,
      rows_rejected: 0,
      rejected_by_reason: {},
      outputs: { chunks: ctx.out },
      chunks_written: run.chunker?.written ?? 0,
      pointer_before: before,
      pointer_after: after,
      pointer_kind: pointer.kind,
      blank_lines: run.blankLines,
      ...(run.sortRuns === undefined ? {} : { sort_runs: run.sortRuns }),
    };
  } finally {
    await pointer.close();
  }
}

/** The one input file: X chunks one file (a directory or glob matching several is an error). */
function oneInput(ctx: KernelContext<BankChunkOptions>): JobInputFile {
  const files = ctx.inputs.transactions ?? [];
  if (files.length !== 1) {
    const names = files.slice(0, 3).map((f) => f.path);
    if (files.length > 3) names.push('…');
    throw new UsageError(`bank-chunk chunks one file; --input matched ${files.length}: ${names.join(', ')}`);
  }
  const path = files[0].path;
  if (path.endsWith('.gz'))
    throw new InputError('E_UNSUPPORTED_INPUT', `${path}: bank-chunk reads plain CSV; decompress it first`, {
      file: path,
    });
  return files[0];
}

function metrics(ctx: KernelContext<BankChunkOptions>) {
  return {
    chunks: ctx.metric('counter', 'shardflow_bank_chunks_total', 'chunks committed by bank-chunk'),
    records: ctx.metric('counter', 'shardflow_bank_chunk_records_total', 'records in the chunks committed'),
    pointer: ctx.metric(
      'gauge',
      'shardflow_bank_pointer',
      "records of the input chunked (the pointer's value)",
    ),
  };
}

/**
 * File order: records from `before` on go to the chunker as each block is split. Without
 * --follow up to the size the input had when the run started; with it, every new byte, waiting
 * (the engine's follow loop, backing off) while the input does not grow.
 */
async function chunkInFileOrder(
  ctx: KernelContext<BankChunkOptions>,
  file: JobInputFile,
  o: CheckedOptions,
  before: number,
  chunkerFor: (header: Uint8Array) => Chunker,
): Promise<ChunkRun> {
  const storage = await storageFor(file.path);
  let chunker: Chunker | null = null;
  const splitter = new RecordSplitter(file.path, (buf, start, end) => {
    if (splitter.records <= before) return; // chunked by an earlier run
    chunker ??= chunkerFor(splitter.header as Uint8Array);
    chunker.add(buf, start, end);
  });
  /** Reads up to `end`, committing chunks as they fill; false when a stop came first. */
  const readTo = async (end: number): Promise<boolean> => {
    for await (const block of storage.read(file.path, splitter.bytes, end)) {
      splitter.push(block);
      ctx.recordRows({ rowsValid: 0, bytesRead: block.length, rejected: {} });
      if (chunker !== null && !(await (chunker as Chunker).drain())) return false;
    }
    return true;
  };
  if (!o.follow) {
    if ((await readTo(file.size)) && !ctx.signal.aborted) {
      splitter.end();
      await (chunker as Chunker | null)?.finish();
    }
  } else {
    await followLoop({ follow: true, pollMs: o.pollMs, signal: ctx.signal }, async () => {
      const info = await storage.stat(file.path);
      if (info === null)
        throw new InputError('E_INPUT_NOT_FOUND', `${file.path}: the followed input is gone`);
      if (info.size < splitter.bytes)
        throw new InputError(
          'E_INPUT_CHANGED',
          `${file.path}: the followed input shrank from ${splitter.bytes} to ${info.size} bytes; it must only grow`,
          { file: file.path },
        );
      if (info.size === splitter.bytes) return false;
      await readTo(info.size);
      return true;
    });
  }
  return { chunker, blankLines: splitter.blankLines };
}

/**
 * `--order-by`: every record into an external sort by the column's bytes (runs spilled under the
 * run's scratch directory past `--sort-memory`), then the sorted records from `before` on to the
 * chunker. The order is a pure function of the input, so a rerun finds the same records at each
 * index.
 */
async function chunkSorted(
  ctx: KernelContext<BankChunkOptions>,
  file: JobInputFile,
  o: CheckedOptions,
  orderBy: string,
  before: number,
  chunkerFor: (header: Uint8Array) => Chunker,
): Promise<ChunkRun> {
  const storage = await storageFor(file.path);
  const sort = new ExternalSort({ dir: join(ctx.scratch, 'order-by'), budgetBytes: o.sortBytes });
  try {
    let column = -1;
    let full = false;
    const splitter = new RecordSplitter(file.path, (buf, start, end, record) => {
      if (column < 0) column = columnIndex(file.path, splitter.headerNames, orderBy);
      full = !sort.add(fieldBytes(record, column), buf.subarray(start, end)) || full;
    });
    for await (const block of storage.read(file.path, 0, file.size)) {
      // In slices, so the records added past the budget before a spill are a slice's, not a block's.
      for (let at = 0; at < block.length; at += SORT_SLICE) {
        splitter.push(block.subarray(at, at + SORT_SLICE));
        if (full) await sort.spill();
        full = false;
      }
      ctx.recordRows({ rowsValid: 0, bytesRead: block.length, rejected: {} });
      if (ctx.signal.aborted) return { chunker: null, blankLines: splitter.blankLines };
    }
    splitter.end();
    if (splitter.header === null) return { chunker: null, blankLines: splitter.blankLines };
    columnIndex(file.path, splitter.headerNames, orderBy); // a header without records: still checked
    ctx.onPhase('chunk');
    const chunker = chunkerFor(splitter.header);
    let index = 0;
    for await (const sorted of sort.sorted()) {
      for (const record of sorted) if (index++ >= before) chunker.add(record, 0, record.length);
      if (!(await chunker.drain())) return { chunker, blankLines: splitter.blankLines };
    }
    await chunker.finish();
    return { chunker, blankLines: splitter.blankLines, sortRuns: sort.stats.runs };
  } finally {
    await sort.close();
  }
}

/** The header's column named `name` (exactly, else the one equal ignoring case); exit 2 when none. */
export function columnIndex(path: string, names: readonly string[], name: string): number {
  const exact = names.indexOf(name);
  if (exact >= 0) return exact;
  const folded = names.flatMap((n, i) => (n.toLowerCase() === name.toLowerCase() ? [i] : []));
  if (folded.length === 1) return folded[0];
  throw new InputError(
    'E_MISSING_COLUMN',
    `${path}: --order-by ${name}: no such column; the header has ${names.map((n) => JSON.stringify(n)).join(', ')}`,
    { file: path },
  );
}
