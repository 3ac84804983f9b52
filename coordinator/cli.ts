#!/usr/bin/env node
/**
 * The `shardflow` command. Exit codes: 0 done, 2 bad usage or input, 1 anything else; an error is
 * one line on stderr.
 */

import type { parseArgs, ParseArgsConfig } from 'node:util';
import { ShardflowError, UsageError } from '../errors.js';
import { parseFlags } from './job-command.js';
import { formatSummary } from './print-table.js';
import type { KernelSummary } from '../engine/job-contract.js';
// Each command loads its own modules when it runs (pg, prom-client, PGlite): a
// command pays only for what it uses, and `--help` or a usage error answers at once.

const USAGE = `usage:
  shardflow run <job | ./job-file.js> --<input> PATH... --out DIR [options]   (shardflow run <job> --help)
  shardflow jobs                 the built-in jobs
  shardflow --version
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
  shardflow generate interactions --rows N [--seed S] [--bad-fraction F] [--shape narrow|wide] --out FILE [--s3-endpoint URL]
  shardflow generate callsign --profiles N --sessions-per-profile M --out DIR [--seed S] [--s3-endpoint URL]
  shardflow generate bank --transactions N --customers C --merchants M [--preset readme|banksim] --out DIR [--seed S]
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
 * `--input a.csv b.csv` (what a shell glob expands to) is `--input a.csv --input b.csv`. An
 * unknown option or a bad value is one line naming it (exit 2).
 */
function parse<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  const { values, positionals } = parseFlags(argv, options, 'see shardflow --help');
  return {
    values: values as ReturnType<typeof parseArgs<{ options: O; allowPositionals: true }>>['values'],
    positionals,
  };
}

async function runCommand(argv: string[]): Promise<void> {
  const spec = argv[0];
  if (spec === undefined || spec.startsWith('-'))
    throw new UsageError(
      'run needs a job: a built-in name (shardflow jobs lists them) or the path of a job file',
    );
  return runEngineJob(spec, argv.slice(1));
}

/** `run <job>` for a job on the engine (built-in or a file). */
async function runEngineJob(spec: string, argv: string[]): Promise<void> {
  const { loadJobModule } = await import('./job-loader.js');
  const { parseJobArgs, jobHelp } = await import('./job-command.js');
  const { url, job } = await loadJobModule(spec);
  const parsed = parseJobArgs(spec, job, argv, process.env);
  if (parsed === null) {
    process.stdout.write(`${jobHelp(spec, job)}\n`);
    return;
  }
  const { pgUrl, loadPg, ...options } = parsed;
  // A kernel job decides itself what it loads; a staged job's tables need a server.
  const hasTables = Object.values(job.outputs ?? {}).some((s) => s.kind === 'pg');
  let pg: import('../io/pg-config.js').PgServerTarget | undefined;
  if ((hasTables || job.kernel !== undefined) && loadPg) {
    const { resolvePgConfig } = await import('../io/pg-config.js');
    const target = resolvePgConfig({ url: pgUrl });
    if (target.kind === 'server') pg = target;
    else if (hasTables)
      log(`${job.name}: PostgreSQL outputs skipped: no server configured (--pg, DATABASE_URL or PG*)`);
  }
  const { runJob } = await import('./run-job.js');
  const summary = await runJob({ ...options, jobUrl: url, pg, log });
  const kernel = job.kernel;
  const report = kernel?.report?.(summary as KernelSummary);
  if (options.json) {
    if (report !== undefined) process.stderr.write(`${report}\n`);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    if (report !== undefined) process.stdout.write(`${report}\n\n`);
    const extra = kernel?.summaryLines?.(summary as KernelSummary) ?? [];
    process.stdout.write(`${formatSummary(summary, extra)}\n`);
  }
}

/** `shardflow jobs`: the built-in jobs and what they do. */
async function jobsCommand(): Promise<void> {
  const { builtinJobs } = await import('./job-loader.js');
  const rows: [string, string][] = [];
  for (const { job } of await builtinJobs()) rows.push([job.name, job.description]);
  rows.sort(([a], [b]) => (a < b ? -1 : 1));
  const width = Math.max(...rows.map(([n]) => n.length)) + 2;
  process.stdout.write(`${rows.map(([n, d]) => `${n.padEnd(width)}${d}`).join('\n')}\n`);
}

async function generateCommand(argv: string[]): Promise<void> {
  if (argv[0] === 'callsign') return generateCallsignArgs(argv.slice(1));
  if (argv[0] === 'bank') return generateBankArgs(argv.slice(1));
  const { values, positionals } = parse(argv, {
    rows: { type: 'string' },
    seed: { type: 'string' },
    'bad-fraction': { type: 'string' },
    shape: { type: 'string' },
    out: { type: 'string' },
    ...S3_FLAGS,
  });
  if (positionals[0] !== 'interactions')
    throw new UsageError(
      `unknown generator "${positionals[0] ?? ''}"; generators: interactions, callsign, bank`,
    );
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
  const { generateInteractions, INTERACTIONS_SHAPES } = await import('../jobs/interactions/generate.js');
  const shape = INTERACTIONS_SHAPES.find((s) => s === values.shape);
  if (values.shape !== undefined && shape === undefined)
    throw new UsageError(
      `--shape must be one of ${INTERACTIONS_SHAPES.join(', ')}, got "${String(values.shape)}"`,
    );
  const summary = await generateInteractions({
    rows: Number(values.rows),
    out: values.out as string,
    seed: num('seed', values.seed),
    badFraction: num('bad-fraction', values['bad-fraction']),
    shape,
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
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument "${positionals[0]}"; see shardflow --help`);
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

/** `generate bank`: transactions.csv and CustomerImportance.csv for the bank detector (local only). */
async function generateBankArgs(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    transactions: { type: 'string' },
    customers: { type: 'string' },
    merchants: { type: 'string' },
    preset: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
  });
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument "${positionals[0]}"; see shardflow --help`);
  const whole = (name: string, v: string | undefined): number => {
    if (v === undefined) throw new UsageError(`--${name} is required: a positive whole number`);
    if (!/^[1-9]\d*$/.test(v)) throw new UsageError(`--${name} must be a positive whole number, got "${v}"`);
    return Number(v);
  };
  const merchants = whole('merchants', values.merchants);
  if (merchants < 5) throw new UsageError(`--merchants must be at least 5, got "${values.merchants}"`);
  const preset = values.preset ?? 'readme';
  if (preset !== 'readme' && preset !== 'banksim')
    throw new UsageError(`--preset must be readme or banksim, got "${preset}"`);
  if (!values.out) throw new UsageError('--out is required: the directory to write the two files to');
  if (/^s3:\/\//i.test(values.out)) throw new UsageError('--out must be a local directory for generate bank');
  const { generateBank } = await import('../jobs/bank-detect/generate.js');
  const summary = await generateBank({
    transactions: whole('transactions', values.transactions),
    customers: whole('customers', values.customers),
    merchants,
    preset,
    seed: values.seed === undefined ? undefined : seedOf(values.seed),
    out: values.out,
  }).catch((err: unknown) => {
    // The generator's RangeError names the option that is too small for the others.
    if (err instanceof RangeError) throw new UsageError(err.message.replace(/^options\./, '--'));
    throw err;
  });
  const bad = Object.values(summary.badRows).reduce((a, b) => a + b, 0);
  log(
    `generated ${summary.transactions} transactions (${bad} bad), ${summary.bytes} bytes in ${summary.seconds.toFixed(2)} s: ${values.out}`,
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
      case 'jobs':
        await jobsCommand();
        return 0;
      case '--version':
      case '-V':
      case 'version': {
        const { readFile } = await import('node:fs/promises');
        const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
          version: string;
        };
        process.stdout.write(`shardflow ${pkg.version}\n`);
        return 0;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(
          `unknown command "${command}"; commands: run, jobs, generate, query, demo (see shardflow --help)`,
        );
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
