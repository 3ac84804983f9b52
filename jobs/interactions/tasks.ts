/** The messages between the coordinator and the workers for the interactions job's stages. */

import type { CountTableHandle } from './count-table.js';
import type { CountPartials } from './interaction-counts.js';

/**
 * Input positions order rows across files: file index · 2^40 + byte offset (exact in a float64
 * for up to 8192 files of up to 1 TiB). Duplicates are decided by them ("earlier" = smaller).
 */
export function positionBase(fileIndex: number): number {
  return fileIndex * 1099511627776;
}

/** One split of one input file. */
export interface SplitTask {
  path: string;
  fileIndex: number;
  start: number;
  end: number;
  /** `start` is a known record start. */
  aligned: boolean;
  gzip: boolean;
}

/** (id, position) of every valid row, grouped by partition: rows offsets[p] … offsets[p+1]. */
export interface DedupBuckets {
  offsets: Uint32Array;
  keys: Uint32Array;
  pos: Float64Array;
}

export interface MapTask {
  stage: 'map';
  taskId: number;
  split: SplitTask;
  /** Header indices of interaction_id, user_id, product_id, action, timestamp. */
  columns: number[];
  fieldCount: number;
  partitions: number;
  /** Count (user, product) pairs: needed for the pairs and clean outputs and PostgreSQL only. */
  countPairs: boolean;
  /** Rows per write task (CLEAN_CHUNK_ROWS): where `pairCursors` cut the split's rows. */
  chunkRows: number;
  /** Spill the valid rows (`<spillPath>.rows`, for the write stage). */
  spillRows: boolean;
  /** Spill the rejects and valid rows' lines (`<spillPath>.rejects`, for the rejects stage). */
  spillRejects: boolean;
  spillPath: string;
  /** Decode common rows with the map stage's fast path; default true (tests compare both paths). */
  fastRecords?: boolean;
}

export interface MapResult {
  taskId: number;
  lines: number;
  records: number;
  valid: number;
  /** Of the valid rows, those the fast path decided (the rest went through the decoder). */
  fastRows: number;
  rejected: number[];
  multiline: boolean;
  /** Months present (year · 12 + month − 1); only collected when the rows are spilled. */
  months: number[];
  dedup: DedupBuckets;
  /** Counts of every row that passed rules 1–5 (duplicates included). */
  counts: CountPartials;
  /**
   * When pairs are counted: for each chunk c of `chunkRows` valid rows and partition p, how many
   * of the split's rows before the chunk fall in partition p (entry c·P + p), i.e. where the
   * chunk's rows start in each partition's pair rows.
   */
  pairCursors: Uint32Array;
}

export interface DedupTask {
  stage: 'dedup';
  partition: number;
  /** Every map task's buckets, in input order. */
  buckets: DedupBuckets[];
}

export interface DedupResult {
  partition: number;
  /** Positions of rows whose id appeared earlier, ascending. */
  duplicates: Float64Array;
}

/** Subtracts a split's duplicates from the counts (and keeps their raw text for the rejects). */
export interface CorrectTask {
  stage: 'correct';
  taskId: number;
  split: SplitTask;
  columns: number[];
  partitions: number;
  countPairs: boolean;
  /** Positions of this split's duplicate rows, ascending (at least one). */
  duplicates: Float64Array;
  /** Return the duplicates' raw text (rejects are an output). */
  keepRaw: boolean;
}

/** Raw texts, text i being bytes[offsets[i], offsets[i+1]) in UTF-8. */
export interface RawTexts {
  offsets: Uint32Array;
  bytes: Uint8Array;
}

export interface CorrectResult {
  taskId: number;
  /** Negative counts of the duplicates. */
  counts: CountPartials;
  /** The duplicates' raw records (cut to MAX_RAW_BYTES), in position order, when kept. */
  raw: RawTexts | null;
}

/** Writes a split's rejects part: rules 1–5 from the map stage's spill, then the duplicates. */
export interface RejectsTask {
  stage: 'rejects';
  taskId: number;
  /** The map stage's spill path (its `.rejects` file). */
  spillPath: string;
  /** Positions of this split's duplicate rows, ascending, and their raw text. */
  duplicates: Float64Array;
  duplicateRaw: RawTexts | null;
  /** Line number (1-based) of the split's first line. */
  firstLine: number;
  rejectsPath: string;
  sourceName: string;
}

export interface RejectsResult {
  taskId: number;
  rejectsWritten: number;
}

export interface MergeTask {
  stage: 'merge';
  partition: number;
  partials: CountPartials[];
  /**
   * Task ids of the first partials, which are map partials whose raw pair rows need their final
   * counts back (for the write stage); empty when no clean rows are written.
   */
  rowTasks: number[];
  /** Task ids are below this (sections of MergeResult.pairRows). */
  taskCount: number;
  /** Keep shared lookup tables of the user and product counts for the write stage. */
  keepTables: boolean;
  /** Where to write this partition's pairs part, or null. */
  pairsPath: string | null;
}

/** Final counts of one partition: compact entries, plus shared tables when kept. */
export interface MergeResult {
  partition: number;
  users: { keys: Uint32Array; counts: Float64Array };
  products: { keys: Uint32Array; counts: Float64Array };
  days: { keys: Uint32Array; counts: Float64Array };
  tables: { users: CountTableHandle; products: CountTableHandle } | null;
  /**
   * The final pair count of each raw pair row of this partition, section t (offsets[t] …
   * offsets[t+1]) for map task t, in the order of that task's pair rows (which is row order). A
   * partitioned shape, so a shard reads only the sections of the tasks it owns.
   */
  pairRows: { offsets: Uint32Array; counts: Uint32Array };
}

export interface WriteTask {
  stage: 'write';
  taskId: number;
  spillPath: string;
  duplicates: Float64Array;
  partitions: number;
  tables: { users: CountTableHandle[]; products: CountTableHandle[] };
  /**
   * The final pair counts of this split's rows (duplicates included) from the merge stage,
   * partition after partition, each partition's in row order.
   */
  pairCounts: Uint32Array;
  /** Per partition, where its rows from `from` on start in `pairCounts`. */
  pairCursor: Uint32Array;
  /** User and product counts indexed by id, when the ids are dense enough (see denseCounts). */
  dense: { users: Float64Array | null; products: Float64Array | null };
  /** The range of the split's spilled rows (duplicates included) this task writes. */
  from: number;
  to: number;
  /** Number of the clean part this task writes: parts are numbered in input order. */
  part: number;
  /** Directory of the clean parts, or null. */
  cleanDir: string | null;
  /** Produce the clean rows in PostgreSQL's binary COPY format. */
  copyRows: boolean;
  /** Write the COPY rows to this local file instead of returning them (a shard loads its own parts later). */
  copyPath?: string;
}

export interface WriteResult {
  taskId: number;
  rows: number;
  /** The range's rows in binary COPY format (one chunk), or null. */
  copy: Uint8Array[] | null;
  /** Clean part files written. */
  parts: string[];
}

export type InteractionsTask = MapTask | DedupTask | CorrectTask | RejectsTask | MergeTask | WriteTask;

/**
 * The number whose residue picks the shard that runs a task: the split's task id for the per-split
 * stages (map, correct, rejects, write: a split's spills stay on the shard that mapped it), the partition
 * for the per-partition ones (dedup, merge).
 */
export function interactionsTaskOwner(task: InteractionsTask): number {
  return task.stage === 'dedup' || task.stage === 'merge' ? task.partition : task.taskId;
}
