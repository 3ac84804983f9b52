/**
 * The job contract: what a job module declares and the engine runs. A job is data plus small
 * functions; everything else (splits, the pool, rejects, the shuffle, sinks, the PostgreSQL
 * ledger, metrics, the CLI) is the engine's. See ../shared/ARCHITECTURE.md, "A job, as its author
 * writes it", and README.md, "Write your own job".
 */

import type { Aggregate } from '../workers/aggregates/aggregate.js';
import type { OutputColumns, OutputType } from '../io/row-encode.js';
import type { SqlClient } from '../io/sql-client.js';

/** The value types a schema column can have, and what a record holds for them. */
export type ColumnType = 'string' | 'integer' | 'number' | 'timestamp' | 'boolean';

/** One column of an input schema. */
export interface ColumnSpec {
  /** The value type; default `string`. A value that does not parse is a reject `bad_<type>`. */
  type?: ColumnType;
  /** A required column must be in the header and non-empty in every row (`missing_field`); default true. */
  required?: boolean;
  /** Other header spellings accepted for this column (matched by the schema's header rule). */
  aliases?: readonly string[];
}

/**
 * How header names are matched to columns: `exact`; `case-insensitive` (trimmed; the default);
 * `normalized` (Unicode NFC, trimmed, lower case, every run of characters outside `[a-z0-9]`
 * becomes `_`, leading and trailing `_` removed: `Order ID` → `order_id`).
 */
export type HeaderRule = 'exact' | 'case-insensitive' | 'normalized';

/** An input's schema: its columns by name, and the header rule. */
export interface Schema {
  columns: Readonly<Record<string, ColumnSpec>>;
  header?: HeaderRule;
  /** Strings read as null (after trimming); default `''`, `null`, `NULL`. */
  nulls?: readonly string[];
}

/** A record as `map` sees it: every column of the schema, null when absent or empty. */
export type JobRecord = Record<string, string | number | boolean | null>;

/** The formats an input can have; the set is open (JSON arrays and queries come next). */
export type InputFormat = 'csv' | 'jsonl' | 'json-array';

/** A declared input: its format and schema; the user names its paths on the command line. */
export interface InputSpec {
  readonly format: InputFormat;
  readonly schema: Schema;
}

/** What map hands back for a bad record: a reason code (lower snake case). */
export interface Reject {
  readonly reject: string;
}

/** One keyed update: the key and one value per state field (omit a field to leave it alone). */
export interface Update {
  readonly key: string;
  readonly values: Readonly<Record<string, unknown>>;
}

/** What `map` returns: a reject, an update, several updates, or nothing (skip, counted valid). */
export type MapResult = Reject | Update | readonly Update[] | null | undefined;

/** What every job function is given besides its record: the job's validated options. */
export interface JobContext<O = Record<string, unknown>> {
  readonly options: Readonly<O>;
  /** The input the record came from (its declared name). */
  readonly input: string;
}

/** The state of one key: one aggregate per field. */
export type StateSpec = Readonly<Record<string, Aggregate<unknown, unknown, unknown>>>;

/** A row written to the outputs; keys are output column names. */
export type OutputRow = Record<string, unknown>;

/** A keyed stage: records (or the previous stage's rows) → keyed updates → state → rows. */
export interface StageSpec<O = Record<string, unknown>> {
  /** Names the stage in metrics and progress. */
  readonly name: string;
  /**
   * The first stage: maps each record of its inputs. A later stage: maps each row the previous
   * stage finalized (a re-key: dedupe by id, then count by user).
   */
  readonly map: (record: Readonly<Record<string, unknown>>, ctx: JobContext<O>) => MapResult;
  /** The inputs the first stage reads; default every input. */
  readonly inputs?: readonly string[];
  /**
   * Each key's state, built from the library's monoids or the job's own; a function of the job's
   * options when a monoid needs one (a session gap).
   */
  readonly state: StateSpec | ((options: Readonly<O>) => StateSpec);
  /** The rows of one key once every partial is merged; default one row: `{ key, ...values }`. */
  readonly finalize?: (
    key: string,
    values: Readonly<Record<string, unknown>>,
    ctx: JobContext<O>,
  ) => OutputRow | readonly OutputRow[] | null;
}

export type { OutputType, OutputColumns };

/** Where the final rows go. File sinks write one part per reduce partition under `--out/<path>/`. */
export type SinkSpec =
  | { readonly kind: 'parquet'; readonly path: string; readonly columns: OutputColumns }
  | { readonly kind: 'jsonl'; readonly path: string; readonly columns: OutputColumns }
  | { readonly kind: 'csv'; readonly path: string; readonly columns: OutputColumns }
  | {
      readonly kind: 'hive';
      readonly path: string;
      /** The column whose value names each row's folder (`<by>=<value>/`); not written in the files. */
      readonly by: string;
      readonly format: 'parquet' | 'jsonl' | 'csv';
      readonly columns: OutputColumns;
    }
  | {
      /** The run's counts as one JSON file, `--out/<path>`: rows, rejects by reason, keys, rows per output. */
      readonly kind: 'report';
      readonly path: string;
      readonly columns?: undefined;
    }
  | {
      readonly kind: 'pg';
      readonly table: string;
      readonly columns: OutputColumns;
      /** `replace`: swap in atomically; `once`: append once per run id; `upsert`: by `key`. */
      readonly mode: 'replace' | 'once' | 'upsert';
      readonly key?: readonly string[];
    };

/** A job option, parsed from `--<name> VALUE` and validated before anything runs. */
export interface OptionSpec {
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'duration';
  /** One line for `--help`. */
  readonly help: string;
  /** The value when the option is not given; an option without one is required (but booleans). */
  readonly default?: string | number | boolean;
}

/** One input file as the engine expanded it: its URL or path, size and version (ETag or mtime). */
export interface JobInputFile {
  readonly path: string;
  readonly size: number;
  readonly version?: string;
}

/** Row counts a kernel reports to the run's metrics as its work is done. */
export interface KernelRowStats {
  rowsRead?: number;
  rowsValid: number;
  bytesRead?: number;
  rejected: Record<string, number>;
}

/** Runs one stage's tasks (in the pool, or as one shard of many); results in task order. */
export interface KernelTaskRunner {
  <R>(stage: string, tasks: unknown[]): Promise<R[]>;
  /** With several shards: `fn` on every shard, then a barrier. One process: just `fn`. */
  everyShard?(step: string, fn: () => Promise<void>): Promise<void>;
  /** With several shards: `fn` on shard 0, the others wait. One process: just `fn`. */
  leadShard?(step: string, fn: () => Promise<void>): Promise<void>;
}

/** What the engine hands a kernel's `run`: everything but the job's own stages. */
export interface KernelContext<O = Record<string, unknown>> {
  readonly options: Readonly<O>;
  /** Each declared input's files, expanded, in input order. */
  readonly inputs: Readonly<Record<string, readonly JobInputFile[]>>;
  readonly out: string;
  readonly partitions: number;
  readonly splitBytes: number;
  readonly shard: { readonly index: number; readonly count: number };
  readonly runId: string;
  /** This run's scratch directory (removed at the end, on a signal, and when found dead). */
  readonly scratch: string;
  /** The PostgreSQL server of the job's tables (`--pg`, DATABASE_URL, PG*); absent with none or --no-pg. */
  readonly pg?: { readonly target: unknown; readonly schema: string };
  readonly runTasks: KernelTaskRunner;
  /**
   * Aborted by the first SIGTERM/SIGINT: a long-running job (follow mode) stops taking new work.
   * The process still exits after the engine's stop; what a job commits per object survives it.
   */
  readonly signal: AbortSignal;
  /**
   * Opens the job's PostgreSQL: the configured server (`--pg`, DATABASE_URL, PG*), else, with none
   * or `--no-pg`, an embedded PostgreSQL (PGlite) persisted in `stateDir`. The same SQL serves both.
   */
  openSql(stateDir: string): Promise<SqlClient>;
  /** A counter or gauge of the job's own in the run's registry (with the run's `job` label). */
  metric(kind: 'counter' | 'gauge', name: string, help: string, labelNames?: readonly string[]): JobMetric;
  /** The bytes this shard will read (progress total). */
  onPlan(totalBytes: number): void;
  /** Names what the run is doing now (progress). */
  onPhase(phase: string): void;
  /** Counts rows in the metrics as work is done. */
  recordRows(stats: KernelRowStats): void;
  log(line: string): void;
}

/** A job's own metric: `inc` for a counter, `set` for a gauge. */
export interface JobMetric {
  inc(labels?: Record<string, string>, value?: number): void;
  set(labels: Record<string, string> | undefined, value: number): void;
}

/** The `--json` summary a kernel returns; the engine adds `run_id` and `seconds`. */
export interface KernelSummary {
  rows_read: number;
  rows_valid: number;
  rows_rejected: number;
  rejected_by_reason: Record<string, number>;
  outputs: Record<string, string>;
  [field: string]: unknown;
}

/**
 * A specialised kernel behind the contract: a job whose stages are its own code (the interactions
 * fast path, window counts, the bitmap dedupe) still gets the engine's CLI, options, inputs, pool,
 * shuffle, scratch, signals, metrics, progress, run id, `_SUCCESS` and summary.
 */
export interface KernelSpec<O = Record<string, unknown>> {
  /** Every reject reason, so the metrics show each at 0 from the start. */
  readonly reasons: readonly string[];
  /** Which shard runs a task: `owner(task) mod N`. */
  readonly owner: (task: unknown) => number;
  /** Runs one task in a worker thread (import heavy modules inside it). */
  readonly runTask: (task: unknown, onProgress?: (bytes: number, rows: number) => void) => Promise<unknown>;
  /** Runs the job's stages in the main thread. */
  readonly run: (ctx: KernelContext<O>) => Promise<KernelSummary>;
  /** Text printed before the summary (stderr with --json), e.g. a validation report. */
  readonly report?: (summary: KernelSummary) => string;
  /** Extra `label value` lines of the human summary. */
  readonly summaryLines?: (summary: KernelSummary) => [string, string | number][];
}

/** What a job module declares (`export default defineJob({...})`). */
export interface JobDefinition<O = Record<string, unknown>> {
  /** Lower-case name: letters, digits, `-`. */
  readonly name: string;
  /** One line for `shardflow jobs` and `--help`. */
  readonly description: string;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  readonly inputs: Readonly<Record<string, InputSpec>>;
  /** One or more keyed stages; each later stage re-keys the rows of the one before. */
  readonly stages?: readonly StageSpec<O>[];
  readonly outputs?: Readonly<Record<string, SinkSpec>>;
  /** Instead of stages and outputs: the job's own kernel behind the contract. */
  readonly kernel?: KernelSpec<O>;
  /** Defaults of the common options for this job: partitions, split size, most partitions. */
  readonly defaults?: {
    readonly partitions?: number;
    readonly splitBytes?: number;
    readonly maxPartitions?: number;
  };
}

/** A job declared with stages and outputs (not a kernel). */
export type StagedJobDefinition<O = Record<string, unknown>> = JobDefinition<O> & {
  readonly stages: readonly StageSpec<O>[];
  readonly outputs: Readonly<Record<string, SinkSpec>>;
};
