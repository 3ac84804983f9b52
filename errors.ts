/**
 * One base error class for shardflow; subclasses carry a stable `code` that tests and callers
 * match on, and keep the upstream error as `cause`.
 */
export class ShardflowError extends Error {
  /** Stable machine-readable code, e.g. `E_USAGE`, `E_INPUT`, `E_PG`. */
  readonly code: string;
  /** Process exit code the CLI uses for this error: 2 bad usage or input, 1 anything else. */
  readonly exitCode: number;

  constructor(code: string, message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Bad command-line usage or option value (exit 2). */
export class UsageError extends ShardflowError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('E_USAGE', message, { ...options, exitCode: 2 });
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
