/**
 * `defineJob` and the small constructors a job module is written with: `csv` / `jsonl` inputs,
 * `reject` / `emit` results, `parquet` / `csvFile` / `jsonlFile` / `pgTable` outputs. A definition
 * is checked once, when its module loads, so a mistake in a job names the job and the field
 * before any data is read.
 */

import { UsageError } from '../errors.js';
import type {
  InputSpec,
  JobDefinition,
  OutputColumns,
  Reject,
  Schema,
  SinkSpec,
  StateSpec,
  Update,
} from './job-contract.js';

/** Marks a checked definition; `Symbol.for` so two copies of the library agree. */
const JOB_MARK = Symbol.for('shardflow.job');

const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const OUTPUT_TYPE = /^(string|int64|double|boolean|timestamp|date)\??$/;
const REASON = /^[a-z][a-z0-9_]{0,62}$/;

function fail(job: string, message: string): never {
  throw new UsageError(`job "${job}": ${message}`);
}

/** Checks a job's declaration and returns it frozen; the module's default export. */
export function defineJob<O = Record<string, unknown>>(definition: JobDefinition<O>): JobDefinition<O> {
  const def = definition as JobDefinition<O> & { [JOB_MARK]?: true };
  const name = String(def?.name ?? '');
  if (!NAME.test(name)) fail(name, 'name must be lower-case letters, digits and "-", starting with a letter');
  if (typeof def.description !== 'string' || def.description.length === 0)
    fail(name, 'description must be a one-line string');
  const inputs = Object.entries(def.inputs ?? {});
  if (inputs.length === 0) fail(name, 'inputs must declare at least one input');
  for (const [input, spec] of inputs) {
    if (!NAME.test(input)) fail(name, `input "${input}": name must be lower-case letters, digits and "-"`);
    if (spec.format !== 'csv' && spec.format !== 'jsonl' && spec.format !== 'json-array')
      fail(
        name,
        `input "${input}": format must be csv, jsonl or json-array (use the csv(), jsonl() or jsonArray() constructors)`,
      );
    if (Object.keys(spec.schema?.columns ?? {}).length === 0)
      fail(name, `input "${input}": the schema needs at least one column`);
  }
  if (def.kernel !== undefined) {
    for (const fn of ['owner', 'runTask', 'run'] as const)
      if (typeof def.kernel[fn] !== 'function') fail(name, `kernel.${fn} must be a function`);
    if (!Array.isArray(def.kernel.reasons)) fail(name, 'kernel.reasons must list the reject reasons');
    if (def.stages !== undefined || def.outputs !== undefined)
      fail(name, 'a kernel job declares no stages or outputs (its kernel writes them)');
    checkOptions(name, def);
    return Object.freeze(
      Object.assign(Object.create(null) as object, def, { [JOB_MARK]: true }),
    ) as JobDefinition<O>;
  }
  if (!Array.isArray(def.stages) || def.stages.length === 0)
    fail(name, 'stages must hold at least one stage');
  def.stages.forEach((stage, i) => {
    const where = `stage ${i} ("${stage?.name ?? ''}")`;
    if (!NAME.test(stage?.name ?? ''))
      fail(name, `${where}: name must be lower-case letters, digits and "-"`);
    if (typeof stage.map !== 'function') fail(name, `${where}: map must be a function`);
    if (typeof stage.state !== 'function') checkState(name, where, stage.state);
    for (const input of stage.inputs ?? [])
      if (i > 0 || !(input in def.inputs)) fail(name, `${where}: unknown input "${input}"`);
  });
  const outputs = Object.entries(def.outputs ?? {});
  if (outputs.length === 0) fail(name, 'outputs must declare at least one sink');
  const paths = new Set<string>(['rejects']);
  for (const [output, sink] of outputs) {
    if (!NAME.test(output)) fail(name, `output "${output}": name must be lower-case letters, digits and "-"`);
    for (const [column, type] of Object.entries(sink.columns ?? {})) {
      if (!FIELD.test(column)) fail(name, `output "${output}": column "${column}" is not a valid name`);
      if (!OUTPUT_TYPE.test(type))
        fail(name, `output "${output}": column "${column}" has unknown type "${type}"`);
    }
    if (sink.kind !== 'report' && Object.keys(sink.columns ?? {}).length === 0)
      fail(name, `output "${output}": declare its columns`);
    if (sink.kind === 'hive' && !(sink.by in sink.columns))
      fail(name, `output "${output}": the folder column "${sink.by}" is not one of its columns`);
    if (sink.kind === 'pg') {
      if (sink.mode === 'upsert' && (sink.key ?? []).length === 0)
        fail(name, `output "${output}": an upsert table needs key columns`);
      for (const k of sink.key ?? [])
        if (!(k in sink.columns))
          fail(name, `output "${output}": key column "${k}" is not one of its columns`);
    } else {
      if (!/^[a-z0-9][a-z0-9_.-]*$/.test(sink.path) || sink.path.includes('..'))
        fail(name, `output "${output}": path "${sink.path}" must be one plain folder name`);
      if (paths.has(sink.path))
        fail(name, `output "${output}": path "${sink.path}" is used twice (or reserved)`);
      paths.add(sink.path);
    }
  }
  checkOptions(name, def);
  return Object.freeze(
    Object.assign(Object.create(null) as object, def, { [JOB_MARK]: true }),
  ) as JobDefinition<O>;
}

/** The job's own options: names, types, and no clash with the options every job takes. */
function checkOptions(name: string, def: JobDefinition<never>): void {
  for (const [option, spec] of Object.entries(def.options ?? {})) {
    if (!NAME.test(option)) fail(name, `option "${option}": name must be lower-case letters, digits and "-"`);
    if (RESERVED_OPTIONS.has(option) || option in def.inputs)
      fail(name, `option "${option}": the name is taken by an option every job has, or by an input`);
    if (!['string', 'integer', 'number', 'boolean', 'duration'].includes(spec.type))
      fail(name, `option "${option}": unknown type "${String(spec.type)}"`);
  }
}

/** Options the engine's command line gives every job (a job option may not reuse one). */
export const RESERVED_OPTIONS: ReadonlySet<string> = new Set([
  'input',
  'out',
  'workers',
  'partitions',
  'split-size',
  'tmp-dir',
  'shard',
  'shards',
  'shuffle',
  'run-id',
  'barrier-timeout',
  'pg',
  'pg-schema',
  'no-pg',
  'metrics-port',
  'pushgateway',
  's3-endpoint',
  's3-region',
  's3-checksums',
  's3-part-size',
  'json',
  'no-progress',
  'help',
]);

/** Checks a stage's state: at least one field, each an aggregate. */
export function checkState(job: string, where: string, state: StateSpec): StateSpec {
  const fields = Object.entries(state ?? {});
  if (fields.length === 0) fail(job, `${where}: state must declare at least one aggregate`);
  for (const [field, agg] of fields) {
    if (!FIELD.test(field)) fail(job, `${where}: state field "${field}" is not a valid name`);
    for (const fn of ['init', 'update', 'merge', 'finalize', 'encode', 'decode'] as const)
      if (typeof (agg as unknown as Record<string, unknown> | undefined)?.[fn] !== 'function')
        fail(job, `${where}: state field "${field}" is not an aggregate (it has no ${fn}())`);
  }
  return state;
}

/** A stage's state for a run's options (a stage may build it from them). */
export function stageState(
  job: JobDefinition,
  s: number,
  options: Readonly<Record<string, unknown>>,
): StateSpec {
  const stage = job.stages?.[s];
  if (stage === undefined) fail(job.name, `has no stage ${s}`);
  const state =
    typeof stage.state === 'function' ? (stage.state as (o: unknown) => StateSpec)(options) : stage.state;
  return checkState(job.name, `stage ${s} ("${stage.name}")`, state);
}

/** True for a definition returned by {@link defineJob}. */
export function isJobDefinition(value: unknown): value is JobDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[JOB_MARK] === true;
}

/** A CSV input (RFC 4180, header line, UTF-8). */
export function csv(schema: Schema): InputSpec {
  return Object.freeze({ format: 'csv', schema });
}

/** A JSON Lines input: one object per line. */
export function jsonl(schema: Schema): InputSpec {
  return Object.freeze({ format: 'jsonl', schema });
}

/** A JSON array input: one array of objects per file, streamed element by element (stream-json). */
export function jsonArray(schema: Schema): InputSpec {
  return Object.freeze({ format: 'json-array', schema });
}

/** A reject with a reason code (lower snake case); it goes to the rejects output with its line. */
export function reject(reason: string): Reject {
  if (!REASON.test(reason)) throw new UsageError(`reject reason "${reason}" must be lower snake case`);
  return { reject: reason };
}

/** One keyed update. */
export function emit(key: string | number | bigint, values: Record<string, unknown> = {}): Update {
  return { key: String(key), values };
}

/** Parquet parts, one per reduce partition: `<out>/<path>/part-PPPPP.parquet`. */
export function parquet(path: string, columns: OutputColumns): SinkSpec {
  return Object.freeze({ kind: 'parquet', path, columns });
}

/** CSV parts with a header line (csv-stringify), one per reduce partition. */
export function csvFile(path: string, columns: OutputColumns): SinkSpec {
  return Object.freeze({ kind: 'csv', path, columns });
}

/** JSON Lines parts, one per reduce partition. */
export function jsonlFile(path: string, columns: OutputColumns): SinkSpec {
  return Object.freeze({ kind: 'jsonl', path, columns });
}

/**
 * Hive-style folders: each row goes to `<out>/<path>/<by>=<value>/part-PPPPP.<format>` (the value
 * escaped so it never leaves its folder: io/hive-path.ts), without the `by` column.
 */
export function hiveFolders(
  path: string,
  by: string,
  columns: OutputColumns,
  options: { format?: 'parquet' | 'jsonl' | 'csv' } = {},
): SinkSpec {
  return Object.freeze({ kind: 'hive', path, by, format: options.format ?? 'parquet', columns });
}

/** The run's counts as one JSON file under `--out` (deterministic: no times, no paths of the machine). */
export function report(path: string): SinkSpec {
  return Object.freeze({ kind: 'report', path });
}

/** A PostgreSQL table, loaded with COPY in one transaction with the run's ledger row. */
export function pgTable(
  table: string,
  columns: OutputColumns,
  options: { mode?: 'replace' | 'once' | 'upsert'; key?: readonly string[] } = {},
): SinkSpec {
  return Object.freeze({ kind: 'pg', table, columns, mode: options.mode ?? 'replace', key: options.key });
}

/** True when `value` is what {@link reject} returns. */
export function isReject(value: unknown): value is Reject {
  return typeof value === 'object' && value !== null && typeof (value as Reject).reject === 'string';
}

export type { Update };
