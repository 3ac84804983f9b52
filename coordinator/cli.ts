#!/usr/bin/env node
/**
 * The `shardflow` command. Exit codes: 0 done, 2 bad usage or input, 1 anything else; an error is
 * one line on stderr.
 */

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ShardflowError, UsageError } from '../errors.js';
import { validateRunOptions, type RunOptions } from './run-options.js';
import type { RunInteractionsHooks } from './run-interactions-command.js';
import type { InteractionsSummary } from '../jobs/interactions/run.js';
// Each command loads its own modules when it runs (apache-arrow, pg, prom-client, PGlite): a
// command pays only for what it uses, and `--help` or a usage error answers at once.

const USAGE = `usage:
  shardflow run interactions --input PATH... --out DIR [--outputs LIST] [--pg URL] [--pg-schema NAME]
                             [--workers N] [--partitions P] [--split-size BYTES] [--metrics-port PORT]
                             [--tmp-dir DIR] [--no-pg] [--no-progress] [--json]
                             [--s3-endpoint URL] [--s3-region R] [--s3-checksums when_required|when_supported]
                             [--s3-part-size BYTES] [--shard i/N | --shards N] [--shuffle URI]
                             [--run-id ID] [--barrier-timeout SECONDS] [--pushgateway URL]
     (PATH and DIR may be s3://bucket/key URLs)
  shardflow run callsign --collections PATH... --predictions PATH... --out DIR [--workers N] [--partitions P]
                         [--split-size BYTES] [--metrics-port PORT] [--tmp-dir DIR] [--no-progress] [--json]
                         [--s3-endpoint URL] [--s3-region R] [--s3-checksums MODE] [--s3-part-size BYTES]
  shardflow generate interactions --rows N [--seed S] [--bad-fraction F] --out FILE [--s3-endpoint URL]
  shardflow generate callsign --profiles N --sessions-per-profile M --out DIR [--seed S] [--s3-endpoint URL]
  shardflow query interactions daily|top-users|top-products [--limit N] [--pg URL] [--pg-schema NAME] [--json]
  shardflow demo [--rows N] [--out DIR]`;

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** The S3 options every command that reads or writes storage takes. */
const S3_FLAGS = {
  's3-endpoint': { type: 'string' },
  's3-region': { type: 'string' },
  's3-checksums': { type: 'string' },
  's3-part-size': { type: 'string' },
} as const;

/**
 * Parses `argv`. An option declared `multiple` takes several values in a row as well as repeated:
 * `--input a.csv b.csv` (what a shell glob expands to) is `--input a.csv --input b.csv`. Each
 * positional after such an option, up to the next option, is one more of its values, in command
 * line order; the other positionals are returned as positionals.
 */
function parse<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
    const lists: Record<string, string[]> = {};
    const positionals: string[] = [];
    let list: string | null = null;
    for (const token of parsed.tokens) {
      if (token.kind === 'option') {
        list = options[token.name]?.multiple === true ? token.name : null;
        if (list !== null) (lists[list] ??= []).push(token.value as string);
      } else if (token.kind === 'positional') {
        if (list !== null) lists[list].push(token.value);
        else positionals.push(token.value);
      } else list = null; // `--`: what follows is positional
    }
    return { values: { ...parsed.values, ...lists } as typeof parsed.values, positionals };
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
}

async function runCommand(argv: string[]): Promise<void> {
  if (argv[0] === 'callsign') return runCallsignArgs(argv.slice(1));
  const { values, positionals } = parse(argv, {
    input: { type: 'string', multiple: true },
    out: { type: 'string' },
    outputs: { type: 'string' },
    pg: { type: 'string' },
    'pg-schema': { type: 'string' },
    workers: { type: 'string' },
    partitions: { type: 'string' },
    'split-size': { type: 'string' },
    'metrics-port': { type: 'string' },
    'tmp-dir': { type: 'string' },
    ...S3_FLAGS,
    shard: { type: 'string' },
    shards: { type: 'string' },
    shuffle: { type: 'string' },
    'run-id': { type: 'string' },
    'barrier-timeout': { type: 'string' },
    pushgateway: { type: 'string' },
    'no-progress': { type: 'boolean' },
    'no-pg': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (positionals[0] !== 'interactions')
    throw new UsageError(`unknown job "${positionals[0] ?? ''}"; jobs: interactions, callsign`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"\n${USAGE}`);
  const options = validateRunOptions(values);
  const { runInteractionsCommand } = await import('./run-interactions-command.js');
  const summary = await runInteractionsCommand(options, { log, ...(await pgHooks(options)) });
  if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else printSummary(summary);
}

/** The PostgreSQL sink when a server is configured (--pg, DATABASE_URL or PG*) and not --no-pg. */
async function pgHooks(options: RunOptions): Promise<RunInteractionsHooks> {
  const { resolvePgConfig } = await import('../io/pg-config.js');
  const target = resolvePgConfig({ url: options.pg });
  if (!options.loadPg || target.kind !== 'server') return {};
  return {
    openShardedLoader: async (runId) => {
      const { openSqlClient } = await import('../io/sql-client.js');
      const { createShardedInteractionsLoader } = await import('./pg-sharded-loader.js');
      const client = await openSqlClient(target, { maxConnections: 4 });
      const loader = createShardedInteractionsLoader(client, { schema: options.pgSchema, runId });
      return { ...loader, close: () => client.close() };
    },
    openLoader: async () => {
      const { openSqlClient } = await import('../io/sql-client.js');
      const { createInteractionsLoader } = await import('./pg-interactions-loader.js');
      const client = await openSqlClient(target, { maxConnections: 4 });
      const loader = createInteractionsLoader(client, { schema: options.pgSchema });
      return {
        ...loader,
        close: async () => {
          try {
            await loader.close();
          } finally {
            await client.close();
          }
        },
      };
    },
  };
}

function printSummary(s: InteractionsSummary & { seconds: number }): void {
  const lines = [
    `rows read      ${s.rows_read}`,
    `rows valid     ${s.rows_valid}`,
    `rows rejected  ${s.rows_rejected}`,
    ...Object.entries(s.rejected_by_reason).map(([r, n]) => `  ${r.padEnd(13)}${n}`),
    ...Object.entries(s.outputs).map(([name, path]) => `output ${name.padEnd(9)}${path}`),
    `seconds        ${s.seconds}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `run callsign` (issue #5): the report table, then the summary (one JSON line with --json). */
async function runCallsignArgs(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    collections: { type: 'string', multiple: true },
    predictions: { type: 'string', multiple: true },
    out: { type: 'string' },
    workers: { type: 'string' },
    partitions: { type: 'string' },
    'split-size': { type: 'string' },
    'metrics-port': { type: 'string' },
    'tmp-dir': { type: 'string' },
    'no-progress': { type: 'boolean' },
    json: { type: 'boolean' },
    ...S3_FLAGS,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"\n${USAGE}`);
  const { validateCallsignOptions } = await import('./callsign-options.js');
  const options = validateCallsignOptions(values);
  const { runCallsignCommand } = await import('./run-callsign-command.js');
  const { formatReport } = await import('../jobs/callsign/validation-report.js');
  const { summary, report } = await runCallsignCommand(options, { log });
  const table = `validation report\n${formatReport(report)}\n`;
  if (options.json) {
    process.stderr.write(table);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    const lines = [
      `rows read      ${summary.rows_read}`,
      `rows valid     ${summary.rows_valid}`,
      `rows rejected  ${summary.rows_rejected}`,
      ...Object.entries(summary.rejected_by_reason).map(([r, n]) => `  ${r.padEnd(20)}${n}`),
      `profiles       ${summary.profiles}`,
      ...Object.entries(summary.outputs).map(([name, path]) => `output ${name.padEnd(19)}${path}`),
      `seconds        ${summary.seconds}`,
    ];
    process.stdout.write(`${table}\n${lines.join('\n')}\n`);
  }
}

async function generateCommand(argv: string[]): Promise<void> {
  if (argv[0] === 'callsign') return generateCallsignArgs(argv.slice(1));
  const { values, positionals } = parse(argv, {
    rows: { type: 'string' },
    seed: { type: 'string' },
    'bad-fraction': { type: 'string' },
    out: { type: 'string' },
    ...S3_FLAGS,
  });
  if (positionals[0] !== 'interactions')
    throw new UsageError(`unknown generator "${positionals[0] ?? ''}"; generators: interactions, callsign`);
  if (!values.rows || !/^\d+$/.test(values.rows as string))
    throw new UsageError('--rows must be a whole number');
  if (!values.out) throw new UsageError('--out is required: the CSV file to write');
  const num = (name: string, v: unknown) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${String(v)}"`);
    return n;
  };
  await configureGenerateStorage(values.out as string, values);
  const { generateInteractions } = await import('../jobs/interactions/generate.js');
  const summary = await generateInteractions({
    rows: Number(values.rows),
    out: values.out as string,
    seed: num('seed', values.seed),
    badFraction: num('bad-fraction', values['bad-fraction']),
  });
  log(
    `generated ${summary.rows} rows, ${summary.bytes} bytes in ${summary.seconds.toFixed(2)} s: ${String(values.out)}`,
  );
}

function seedOf(v: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`--seed must be a whole number, got "${v}"`);
  return Number(v);
}

/** A generator's `--out` may be an s3:// URL: check it and set up S3 from the `--s3-*` flags. */
async function configureGenerateStorage(
  out: string,
  values: Record<string, string | boolean | string[] | undefined>,
): Promise<void> {
  const { validateS3Options } = await import('./run-options.js');
  const { configureStorage, isS3Url, parseS3Url } = await import('../io/storage.js');
  if (isS3Url(out)) parseS3Url(out);
  configureStorage({ s3: validateS3Options(values) });
}

async function generateCallsignArgs(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    profiles: { type: 'string' },
    'sessions-per-profile': { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    ...S3_FLAGS,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"\n${USAGE}`);
  const whole = (name: string, v: string | undefined, required: boolean): number | undefined => {
    if (v === undefined) {
      if (required) throw new UsageError(`--${name} is required: a positive whole number`);
      return undefined;
    }
    if (!/^[1-9]\d*$/.test(v)) throw new UsageError(`--${name} must be a positive whole number, got "${v}"`);
    return Number(v);
  };
  if (!values.out) throw new UsageError('--out is required: the directory to write the two files to');
  await configureGenerateStorage(values.out, values);
  const { generateCallsign } = await import('../jobs/callsign/generate.js');
  const summary = await generateCallsign({
    profiles: whole('profiles', values.profiles, true) as number,
    sessionsPerProfile: whole('sessions-per-profile', values['sessions-per-profile'], true) as number,
    seed: values.seed === undefined ? undefined : seedOf(values.seed),
    out: values.out,
  });
  log(
    `generated ${summary.collections} collections and ${summary.predictions} predictions, ${summary.bytes} bytes in ${summary.seconds.toFixed(2)} s: ${values.out}`,
  );
}

async function queryCommandArgs(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    limit: { type: 'string' },
    pg: { type: 'string' },
    'pg-schema': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals[0] !== 'interactions')
    throw new UsageError(`unknown job "${positionals[0] ?? ''}"; jobs: interactions`);
  const { parseQuestion, queryCommand } = await import('./query-command.js');
  const question = parseQuestion(positionals[1]);
  if (values.limit !== undefined && !/^[1-9]\d*$/.test(values.limit))
    throw new UsageError('--limit must be a positive whole number');
  await queryCommand({
    question,
    limit: values.limit === undefined ? undefined : Number(values.limit),
    pg: values.pg,
    schema: values['pg-schema'] ?? 'public',
    json: values.json === true,
  });
}

async function demoCommandArgs(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    rows: { type: 'string' },
    out: { type: 'string' },
    pg: { type: 'string' },
  });
  if (values.rows !== undefined && !/^[1-9]\d*$/.test(values.rows))
    throw new UsageError('--rows must be a positive whole number');
  const { demoCommand } = await import('./demo-command.js');
  await demoCommand({ rows: Number(values.rows ?? 200000), out: values.out ?? 'demo-out', pg: values.pg });
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        await runCommand(rest);
        return 0;
      case 'generate':
        await generateCommand(rest);
        return 0;
      case 'query':
        await queryCommandArgs(rest);
        return 0;
      case 'demo':
        await demoCommandArgs(rest);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"\n${USAGE}`);
    }
  } catch (err) {
    const code = err instanceof ShardflowError ? err.exitCode : 1;
    const message = err instanceof Error ? err.message : String(err);
    log(`shardflow: ${message}`);
    if (process.env.SHARDFLOW_DEBUG && err instanceof Error) log(err.stack ?? '');
    return code;
  }
}

process.exitCode = await main(process.argv.slice(2));
