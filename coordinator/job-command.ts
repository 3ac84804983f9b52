/**
 * `shardflow run <job> …` for every engine job, built-in or a user's file: the command line is
 * built from the job's declaration (its inputs and options) plus the options every job shares,
 * validated once, with `--help` generated from the same declaration.
 */

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import { isS3Url, parseS3Url } from '../io/storage.js';
import { DEFAULT_SPLIT_BYTES } from '../partitioners/plan-splits.js';
import type { JobDefinition, OptionSpec } from '../engine/job-contract.js';
import { validateCommonRunOptions, validateShardOptions } from './run-options.js';
import type { JobRunOptions } from './run-job.js';

type Flags = NonNullable<ParseArgsConfig['options']>;

/** The options every job takes, with their help lines. */
export const COMMON_OPTIONS: readonly [string, 'string' | 'boolean', string][] = Object.freeze([
  ['out', 'string', 'where the outputs go: a directory or s3://bucket/prefix (required)'],
  ['workers', 'string', 'worker threads (default: available cores)'],
  ['partitions', 'string', 'reduce partitions, independent of workers and shards (default 64)'],
  ['split-size', 'string', 'target split size, e.g. 32MiB (default 32MiB)'],
  ['tmp-dir', 'string', 'where spill files go (default: the OS temp dir)'],
  ['shard', 'string', 'this process is shard i of N: i/N (default 0/1)'],
  ['shards', 'string', 'N shards, the index from JOB_COMPLETION_INDEX (an Indexed Job)'],
  ['shuffle', 'string', 'where shards exchange task results: a directory or s3:// prefix'],
  [
    'run-id',
    'string',
    'keys the shuffle and the PostgreSQL ledger (default: a digest of the job, its inputs and options)',
  ],
  ['barrier-timeout', 'string', 'seconds a shard waits for the others at a stage (default 600)'],
  ['pg', 'string', 'PostgreSQL URL for table outputs (also DATABASE_URL, PG*)'],
  ['pg-schema', 'string', 'schema of the tables (default public)'],
  ['no-pg', 'boolean', 'do not load PostgreSQL even when one is configured'],
  ['metrics-port', 'string', 'serve Prometheus /metrics on this port while the run lasts'],
  ['pushgateway', 'string', 'push the final metrics to this Prometheus Pushgateway URL'],
  ['s3-endpoint', 'string', 'an S3-compatible endpoint, path-style (also AWS_ENDPOINT_URL_S3)'],
  ['s3-region', 'string', 'S3 region'],
  ['s3-checksums', 'string', 'when_required or when_supported'],
  ['s3-part-size', 'string', 'multipart upload part size (default 8MiB)'],
  ['json', 'boolean', 'print the summary as one JSON line'],
  ['no-progress', 'boolean', 'no progress line on stderr'],
  ['help', 'boolean', 'this help'],
]);

/** The flags of `job`: its inputs (`--input` too when it has one), its options, the common ones. */
function flagsOf(job: JobDefinition): Flags {
  const flags: Flags = {};
  for (const [name, type] of COMMON_OPTIONS) flags[name] = { type };
  const inputs = Object.keys(job.inputs);
  for (const name of inputs) flags[name] = { type: 'string', multiple: true };
  if (inputs.length === 1 && !('input' in flags)) flags.input = { type: 'string', multiple: true };
  for (const [name, spec] of Object.entries(job.options ?? {}))
    flags[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string' };
  return flags;
}

/** `shardflow run <job> --help`. */
export function jobHelp(spec: string, job: JobDefinition): string {
  const inputs = Object.entries(job.inputs);
  const lines = [
    `usage: shardflow run ${spec} ${inputs.length === 1 ? '--input PATH...' : inputs.map(([n]) => `--${n} PATH...`).join(' ')} --out DIR [options]`,
    '',
    `${job.name}: ${job.description}`,
    '',
    'inputs (files, directories, globs or s3:// URLs; several in a row or repeated):',
    ...inputs.map(([n, s]) => `  --${n.padEnd(22)} ${s.format}: ${Object.keys(s.schema.columns).join(', ')}`),
  ];
  if (inputs.length === 1 && inputs[0][0] !== 'input')
    lines.push(`  ${'--input'.padEnd(24)} the same as --${inputs[0][0]}`);
  const own = Object.entries(job.options ?? {});
  if (own.length > 0) {
    lines.push('', `${job.name} options:`);
    for (const [n, o] of own)
      lines.push(
        `  --${`${n} ${o.type === 'boolean' ? '' : o.type.toUpperCase()}`.padEnd(22)} ${o.help}${o.default === undefined ? (o.type === 'boolean' ? '' : ' (required)') : ` (default ${String(o.default)})`}`,
      );
  }
  lines.push('', 'outputs:');
  for (const [n, s] of Object.entries(job.outputs ?? {}))
    lines.push(
      `  ${n.padEnd(24)} ${
        s.kind === 'pg'
          ? `PostgreSQL table ${s.table} (${s.mode})`
          : s.kind === 'report'
            ? `JSON report --out/${s.path}`
            : s.kind === 'hive'
              ? `${s.format} parts under --out/${s.path}/${s.by}=<value>/`
              : `${s.kind} parts under --out/${s.path}/`
      }`,
    );
  if (job.kernel !== undefined) lines.push("  written by the job's own kernel: see its section of README.md");
  else lines.push(`  ${'rejects'.padEnd(24)} parquet parts under --out/rejects/ (source, line, reason, raw)`);
  lines.push('', 'options of every job:');
  // The job's own defaults, where it has them, in place of the engine's.
  const mib = (bytes: number) => `${bytes / 1024 / 1024}MiB`;
  const ownDefault: Record<string, string | undefined> = {
    partitions: job.defaults?.partitions === undefined ? undefined : `default ${job.defaults.partitions}`,
    'split-size':
      job.defaults?.splitBytes === undefined ? undefined : `default ${mib(job.defaults.splitBytes)}`,
  };
  for (const [n, type, generic] of COMMON_OPTIONS.map(
    ([n, t, h]) => [n, t, h.replace(/default [^)]*/, ownDefault[n] ?? '$&')] as const,
  ))
    lines.push(`  --${`${n}${type === 'string' ? ' VALUE' : ''}`.padEnd(22)} ${generic}`);
  lines.push('', 'Exit codes: 0 done, 2 bad usage or input, 1 anything else.');
  return lines.join('\n');
}

/** Parses `argv` with one-line errors that name the option (exit 2). */
export function parseFlags(
  argv: string[],
  flags: Flags,
  hint: string,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: flags, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError(`${parseArgsMessage(err as Error & { code?: string }, argv)}; ${hint}`);
  }
  const lists: Record<string, string[]> = {};
  const positionals: string[] = [];
  let list: string | null = null;
  for (const token of parsed.tokens) {
    if (token.kind === 'option') {
      list = flags[token.name]?.multiple === true ? token.name : null;
      if (list !== null) (lists[list] ??= []).push(token.value as string);
    } else if (token.kind === 'positional') {
      if (list !== null) lists[list].push(token.value);
      else positionals.push(token.value);
    } else list = null;
  }
  return {
    values: { ...(parsed.values as Record<string, string | boolean | undefined>), ...lists },
    positionals,
  };
}

/** Node's parseArgs errors, said in one line that names the option. */
export function parseArgsMessage(err: Error & { code?: string }, argv: string[]): string {
  const m = /'(-{1,2}[^' ]+)/.exec(err.message);
  const option = m?.[1] ?? argv.find((a) => a.startsWith('-')) ?? '';
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option "${option}"`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return err.message.includes('argument missing')
        ? `${option} needs a value`
        : `${option} takes no value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${option}"`;
    default:
      return err.message.split('\n')[0];
  }
}

/** Parses and validates `run <spec> argv` for `job`; null when `--help` was asked. */
export function parseJobArgs(
  spec: string,
  job: JobDefinition,
  argv: string[],
  env: NodeJS.ProcessEnv,
): (Omit<JobRunOptions, 'jobUrl' | 'pg' | 'log'> & { pgUrl?: string; loadPg: boolean }) | null {
  const { values, positionals } = parseFlags(argv, flagsOf(job), `see shardflow run ${spec} --help`);
  if (values.help === true) return null;
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument "${positionals[0]}"; see shardflow run ${spec} --help`);
  const inputNames = Object.keys(job.inputs);
  const inputs: Record<string, string[]> = {};
  for (const name of inputNames) {
    const given = [
      ...((values[name] as string[] | undefined) ?? []),
      // `--input` is the one input's other name (unless the input is called `input`).
      ...(inputNames.length === 1 && name !== 'input' ? ((values.input as string[] | undefined) ?? []) : []),
    ];
    if (given.length === 0)
      throw new UsageError(
        `--${name} is required: a ${job.inputs[name].format} file, directory, glob or s3:// URL`,
      );
    inputs[name] = given;
  }
  const out = values.out as string | undefined;
  if (!out)
    throw new UsageError('--out is required: the directory (or s3:// prefix) to write the outputs to');
  if (isS3Url(out)) parseS3Url(out);
  const schema = (values['pg-schema'] as string | undefined) ?? 'public';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema))
    throw new UsageError(`--pg-schema must be a plain name of 1 to 63 letters, digits or _, got "${schema}"`);
  const jobOptions: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(job.options ?? {}))
    jobOptions[name] = optionValue(name, o, values[name]);
  return {
    job,
    jobOptions: Object.freeze(jobOptions),
    inputs,
    out,
    ...validateCommonRunOptions(
      values,
      {
        partitions: job.defaults?.partitions ?? 64,
        splitBytes: job.defaults?.splitBytes ?? DEFAULT_SPLIT_BYTES,
      },
      job.defaults?.maxPartitions ?? 65535,
    ),
    ...validateShardOptions(values, env),
    pgSchema: schema,
    pgUrl: values.pg as string | undefined,
    loadPg: values['no-pg'] !== true,
  };
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** One job option's value, typed; a bad one names the option and what it takes. */
export function optionValue(
  name: string,
  spec: OptionSpec,
  raw: string | boolean | string[] | undefined,
): unknown {
  if (raw === undefined) {
    if (spec.default !== undefined)
      return spec.type === 'duration' && typeof spec.default === 'string'
        ? optionValue(name, spec, spec.default)
        : spec.default;
    if (spec.type === 'boolean') return false;
    throw new UsageError(`--${name} is required: ${spec.help}`);
  }
  if (spec.type === 'boolean') return raw === true;
  const text = String(raw);
  switch (spec.type) {
    case 'string':
      return text;
    case 'integer':
      if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
        throw new UsageError(`--${name} must be a whole number, got "${text}"`);
      return Number(text);
    case 'number':
      if (text.trim() === '' || !Number.isFinite(Number(text)))
        throw new UsageError(`--${name} must be a number, got "${text}"`);
      return Number(text);
    case 'duration': {
      if (text === '0') return 0; // `--every 0`: no wait, without a unit
      const m = DURATION.exec(text);
      if (!m)
        throw new UsageError(
          `--${name} must be a duration such as 30m, 90s, 1500ms, 2h or 1d, got "${text}"`,
        );
      return Number(m[1]) * UNIT_MS[m[2]];
    }
  }
}
