/**
 * The job contract: what a job module declares and the engine runs. A job is data plus small
 * functions; everything else (splits, the pool, rejects, the shuffle, sinks, the PostgreSQL
 * ledger, metrics, the CLI) is the engine's. See ../shared/ARCHITECTURE.md, "A job, as its author
 * writes it", and README.md, "Write your own job".
 */

import type { Aggregate } from '../workers/aggregates/aggregate.js';
import type { OutputColumns, OutputType } from '../io/row-encode.js';

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
export type InputFormat = 'csv' | 'jsonl';

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

/** What a job module declares (`export default defineJob({...})`). */
export interface JobDefinition<O = Record<string, unknown>> {
  /** Lower-case name: letters, digits, `-`. */
  readonly name: string;
  /** One line for `shardflow jobs` and `--help`. */
  readonly description: string;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  readonly inputs: Readonly<Record<string, InputSpec>>;
  /** One or more keyed stages; each later stage re-keys the rows of the one before. */
  readonly stages: readonly StageSpec<O>[];
  readonly outputs: Readonly<Record<string, SinkSpec>>;
}
