/**
 * One base error class for shardflow; subclasses carry a stable `code` that tests and callers
 * match on, and keep the upstream error as `cause`. {@link ERROR_CODES} lists every code.
 */

/**
 * Every error code shardflow throws, with what it means. A test keeps it true: each `'E_…'`
 * literal in the source tree must be listed here.
 */
export const ERROR_CODES: Readonly<Record<string, string>> = Object.freeze({
  E_USAGE: 'bad command-line usage or option value',
  E_OUT_NOT_DIR: '--out names an existing file (or a path under one), not a directory',
  E_NO_INPUT: 'no input was given',
  E_INPUT: 'an input cannot be opened',
  E_INPUT_NOT_FOUND: 'an input file, directory, glob, object or prefix does not exist or matches nothing',
  E_UNSUPPORTED_INPUT: 'an input in a format the job cannot read yet',
  E_NO_HEADER: 'a CSV input is empty: no header line',
  E_INPUT_HEADER: 'a CSV header does not name each required column exactly once',
  E_MISSING_COLUMN: 'a CSV header lacks a required column',
  E_AMBIGUOUS_HEADER: 'a CSV header names a column the job reads more than once',
  E_BAD_JSON_ARRAY: 'a JSON array input is not one JSON array, or not UTF-8',
  E_BAD_GZIP: 'a .gz input is not a readable gzip file',
  E_RECORD_TOO_LONG: 'a record is longer than the reader accepts',
  E_S3: 'an S3 request failed and retrying cannot help',
  E_S3_UNAVAILABLE: 'an S3 request failed for a transient reason (throttling, 5xx, a reset); retryable',
  E_S3_NO_BUCKET: 'an s3:// URL names a bucket that does not exist',
  E_S3_ACCESS_DENIED: 'S3 refused the credentials or the access',
  E_S3_KEY: 'an s3:// URL written to is not an object key',
  E_S3_REGION: 'no AWS region is configured',
  E_INPUT_CHANGED: 'an input file changed while the run was reading it',
  E_SPILL_CORRUPT: 'a spill file of this run is truncated or not one shardflow wrote (disk full?)',
  E_SHUFFLE_CORRUPT: 'a shuffle object is truncated or not one shardflow wrote',
  E_BARRIER_TIMEOUT: 'a shard waited too long for the tasks of other shards',
  E_STOPPING: 'the run is stopping (a signal): no new output is started',
  E_PG: 'a PostgreSQL statement or connection failed',
  E_CHUNK_GAP: 'a watched sequence of chunks has a gap: the next chunk in order is missing',
  E_CHUNK_CHANGED: 'a chunk already processed was replaced by different bytes',
  E_NO_DATA: 'a query found nothing loaded in the schema',
  E_METRICS_PORT: 'the metrics server cannot listen on --metrics-port',
  E_PUSHGATEWAY: 'pushing the final metrics to the Pushgateway failed',
  E_JOB_NOT_FOUND: 'no built-in job or job file of that name',
  E_JOB_LOAD: 'a job module cannot be loaded',
  E_NOT_A_JOB: 'a module does not export a job definition',
  E_JOB_MAP: "a job's map function threw on a record",
  E_JOB_OUTPUT: "a job's output does not fit its declared sink",
});

/** Options of {@link ShardflowError}. */
export interface ShardflowErrorOptions {
  /** The upstream error (an SDK, PostgreSQL or Node error). */
  cause?: unknown;
  /** Process exit code; default 1. */
  exitCode?: number;
  /** True when running the same work again may succeed (a transient fault); default false. */
  retryable?: boolean;
}

export class ShardflowError extends Error {
  /** Stable machine-readable code, one of {@link ERROR_CODES}. */
  readonly code: string;
  /** Process exit code the CLI uses for this error: 2 bad usage or input, 1 anything else. */
  readonly exitCode: number;
  /** True when retrying the task that threw it may succeed; the worker pool does. Default false. */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: ShardflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
    this.retryable = options.retryable ?? false;
  }
}

/**
 * `err` as it can cross from a worker thread to the pool. Structured clone keeps only an Error's
 * message and stack, so a ShardflowError crosses as a plain object with its name, message, stack
 * and own primitive properties (`code`, `exitCode`, `retryable`, `file`, …), which the pool turns
 * back into a ShardflowError. Any other value is returned as it is.
 */
export function errorForThread(err: unknown): unknown {
  if (!(err instanceof ShardflowError)) return err;
  const plain: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(err)) {
    // Primitives only: a cause may hold what structured clone cannot copy (sockets, functions).
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      plain[key] = value;
  }
  return { ...plain, name: err.name, message: err.message, stack: err.stack ?? '' };
}

/** Bad command-line usage or option value (exit 2); code `E_USAGE` unless a finer one is given. */
export class UsageError extends ShardflowError {
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(options.code ?? 'E_USAGE', message, { cause: options.cause, exitCode: 2 });
  }
}

/** A bad input file: missing, unreadable, missing a required column (exit 2). */
export class InputError extends ShardflowError {
  readonly file: string | undefined;
  constructor(code: string, message: string, options: { cause?: unknown; file?: string } = {}) {
    super(code, message, { cause: options.cause, exitCode: 2 });
    this.file = options.file;
  }
}

/** A PostgreSQL failure; keeps the SQLSTATE when the server sent one. */
export class PostgresError extends ShardflowError {
  readonly sqlState: string | undefined;
  constructor(message: string, options: { cause?: unknown; sqlState?: string } = {}) {
    super('E_PG', message, { cause: options.cause, exitCode: 1 });
    this.sqlState = options.sqlState;
  }
}
