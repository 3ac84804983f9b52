/**
 * The byte-level baseline of both built-in jobs (issue #10, section 5): runs the CLI in a fixed set
 * of named configurations and records, for each, the sha256 and size of every file under `--out`
 * (`_SUCCESS` included), the `--json` summary without its time fields, and for the PostgreSQL
 * configurations the loaded tables (columns, `count(*)`, md5 of the rows in a deterministic order).
 * With `--compare` it runs the same configurations and prints every difference from a manifest.
 *
 *   node dist/bench/output-hashes.js --out FILE                  write a manifest
 *   node dist/bench/output-hashes.js --compare FILE [--out NEW]  compare with one (exit 1 on any difference)
 *     [--cli dist/coordinator/cli.js] [--work DIR] [--only NAME,...] [--fixtures DIR] [--keep]
 *
 * Every run starts in `--work` with paths relative to it (inputs copied or generated under
 * `inputs/`, outputs under `runs/<name>/out`), so run ids, the summaries' output paths and the
 * rejects' `source` column do not depend on where the repository or the scratch directory is.
 * PostgreSQL comes from DATABASE_URL or PG* over the tests' defaults (test/pg-test-env.ts:
 * 127.0.0.1:5432, database `test`, user `postgres`); each configuration loads its own schema
 * (`baseline_<name>`), dropped before and after.
 *
 * Self-contained on purpose (node built-ins and `pg` only): it has to build and run unchanged on
 * both sides of the refactor it checks.
 */

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const FORMAT = 'shardflow-output-hashes/1';

/** The tests' PostgreSQL defaults (test/pg-test-env.ts), under the environment's PG* / DATABASE_URL. */
const PG_DEFAULTS = Object.freeze({
  PGHOST: '127.0.0.1',
  PGPORT: '5432',
  PGDATABASE: 'test',
  PGUSER: 'postgres',
});

/** What is left out of the comparison, and why; written into the manifest. */
const EXCLUSIONS: readonly Exclusion[] = Object.freeze([
  {
    what: 'summaries: `seconds` and every `*_seconds` field (e.g. pg.copy_seconds, pg.finish_seconds)',
    reason: 'wall-clock durations',
  },
  {
    what: 'pg: shardflow_load_ledger.loaded_at',
    reason: 'the wall-clock time each part was loaded (DEFAULT now())',
  },
  {
    what: 'files: nothing under --out is excluded; shuffle objects and spill files (--shuffle, --tmp-dir) are not outputs',
    reason: 'two runs of this script on the baseline build gave the same bytes for every output file',
  },
]);

/** What a reader of a difference should know; written into the manifest, never compared. */
const NOTES: readonly string[] = Object.freeze([
  "summaries keep run_id: it is a digest of the run's shape (job, inputs, --out, outputs, partitions, split size), " +
    'so a refactor that changes what it digests may legitimately change it; no other summary field may change',
  'within one input the files are the same across 1 and 4 workers, 3 shards and with or without PostgreSQL; ' +
    "the split size changes the interactions job's clean/ and rejects/ part files, so it is part of each configuration",
  'configurations: only the commands are compared, not the descriptions',
]);

/** Columns left out of a table's row digest (see EXCLUSIONS). */
const EXCLUDED_COLUMNS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  shardflow_load_ledger: ['loaded_at'],
});

const GENERATED_INTERACTIONS = 'inputs/generated-interactions.csv';
const GENERATED_CALLSIGN = 'inputs/generated-callsign';

/** An input set: fixture files copied from the repository, or data written by the CLI's generator. */
interface InputSet {
  name: string;
  /** Path under `--work`. */
  path: string;
  /** A fixture folder under `test/fixtures/`, copied as is. */
  fixture?: string;
  /** Arguments of `shardflow generate …` (its `--out` is `path`). */
  generate?: string[];
}

const INPUTS: readonly InputSet[] = [
  { name: 'interactions-awaishk', path: 'inputs/interactions-awaishk', fixture: 'interactions-awaishk' },
  {
    name: 'interactions-icustomer',
    path: 'inputs/interactions-icustomer',
    fixture: 'interactions-icustomer',
  },
  { name: 'callsign-basic', path: 'inputs/callsign-basic', fixture: 'callsign/basic/input' },
  {
    name: 'generated-interactions',
    path: GENERATED_INTERACTIONS,
    generate: ['generate', 'interactions', '--rows', '300000', '--seed', '7'],
  },
  {
    name: 'generated-callsign',
    path: GENERATED_CALLSIGN,
    generate: ['generate', 'callsign', '--profiles', '300', '--sessions-per-profile', '5', '--seed', '7'],
  },
];

/** One named configuration: a run of one job (or of its shards) on one input set. */
interface Config {
  name: string;
  description: string;
  job: 'interactions' | 'callsign';
  input: string;
  /** Job arguments without `--out`, `--tmp-dir`, `--json`, `--no-progress` and the PostgreSQL flags. */
  args: string[];
  /** Load PostgreSQL into `baseline_<name>`. */
  pg?: boolean;
  /** Run as this many concurrent `--shard i/N` processes over a directory shuffle. */
  shards?: number;
}

const icustomer = 'inputs/interactions-icustomer/interaction_data.csv';
const awaishk = 'inputs/interactions-awaishk/sample.csv';
const callsignInputs = (dir: string): string[] => [
  ...['--collections', `${dir}/collections.jsonl`],
  ...['--predictions', `${dir}/predictions.jsonl`],
];
const callsignBasic = callsignInputs('inputs/callsign-basic');
const callsignGenerated = callsignInputs(GENERATED_CALLSIGN);
// 12.7 MB of generated CSV: 1 MiB splits give 12 map tasks (4 a shard), so several splits share
// duplicates and the corrections, the part files and the shards have something to do.
const GEN_SPLIT = ['--split-size', '1MiB'];

const CONFIGS: readonly Config[] = [
  ...(['awaishk', 'icustomer'] as const).flatMap((f): Config[] =>
    [1, 4].map((w) => ({
      name: `interactions-${f}-w${w}`,
      description: `interactions on test/fixtures/interactions-${f}, ${w} worker(s), default split size, Parquet`,
      job: 'interactions',
      input: `interactions-${f}`,
      args: ['--input', f === 'awaishk' ? awaishk : icustomer, '--workers', String(w)],
    })),
  ),
  {
    name: 'interactions-icustomer-w4-split4k',
    description: 'interactions on the icustomer fixture in 4 KiB splits (10 splits), 4 workers',
    job: 'interactions',
    input: 'interactions-icustomer',
    args: ['--input', icustomer, '--workers', '4', '--split-size', '4KiB'],
  },
  {
    name: 'interactions-icustomer-w4-pg',
    description: 'interactions on the icustomer fixture, 4 workers, Parquet and PostgreSQL',
    job: 'interactions',
    input: 'interactions-icustomer',
    args: ['--input', icustomer, '--workers', '4'],
    pg: true,
  },
  ...[1, 4].map((w): Config => ({
    name: `interactions-generated-w${w}`,
    description: `interactions on 300,000 generated rows (seed 7), 1 MiB splits, ${w} worker(s)`,
    job: 'interactions',
    input: 'generated-interactions',
    args: ['--input', GENERATED_INTERACTIONS, '--workers', String(w), ...GEN_SPLIT],
  })),
  {
    name: 'interactions-generated-w1-split32m',
    description: 'interactions on the generated rows at the default split size (one split), 1 worker',
    job: 'interactions',
    input: 'generated-interactions',
    args: ['--input', GENERATED_INTERACTIONS, '--workers', '1'],
  },
  {
    name: 'interactions-generated-shards3',
    description: 'interactions on the generated rows, 1 MiB splits, 3 shard processes (1 worker each)',
    job: 'interactions',
    input: 'generated-interactions',
    args: ['--input', GENERATED_INTERACTIONS, '--workers', '1', ...GEN_SPLIT],
    shards: 3,
  },
  {
    name: 'interactions-generated-w4-pg',
    description: 'interactions on the generated rows, 1 MiB splits, 4 workers, Parquet and PostgreSQL',
    job: 'interactions',
    input: 'generated-interactions',
    args: ['--input', GENERATED_INTERACTIONS, '--workers', '4', ...GEN_SPLIT],
    pg: true,
  },
  {
    name: 'interactions-generated-shards3-pg',
    description:
      'interactions on the generated rows, 1 MiB splits, 3 shard processes, PostgreSQL (ledger load)',
    job: 'interactions',
    input: 'generated-interactions',
    args: ['--input', GENERATED_INTERACTIONS, '--workers', '1', ...GEN_SPLIT],
    shards: 3,
    pg: true,
  },
  ...[1, 4].map((w): Config => ({
    name: `callsign-basic-w${w}`,
    description: `callsign on test/fixtures/callsign/basic/input, ${w} worker(s)`,
    job: 'callsign',
    input: 'callsign-basic',
    args: [...callsignBasic, '--workers', String(w)],
  })),
  ...[1, 4].map((w): Config => ({
    name: `callsign-generated-w${w}`,
    description: `callsign on 300 generated profiles × 5 sessions (seed 7), default split size, ${w} worker(s)`,
    job: 'callsign',
    input: 'generated-callsign',
    args: [...callsignGenerated, '--workers', String(w)],
  })),
  {
    name: 'callsign-generated-w4-split512k',
    description: 'callsign on the generated profiles in 512 KiB splits (11 splits), 4 workers',
    job: 'callsign',
    input: 'generated-callsign',
    args: [...callsignGenerated, '--workers', '4', '--split-size', '512KiB'],
  },
];

interface Exclusion {
  what: string;
  reason: string;
}

interface FileHash {
  sha256: string;
  size: number;
}

type FileHashes = Record<string, FileHash>;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface TableDigest {
  columns: string[];
  excluded_columns?: string[];
  rows: number;
  md5: string | null;
}

interface PgDigest {
  /** Every relation of the schema: `name [relkind]`. */
  relations: string[];
  /** Every table that is not a partition (partitions are in the parent's rows). */
  tables: Record<string, TableDigest>;
}

interface Manifest {
  format: string;
  /** Informational, never compared. */
  source: { commit: string | null; node: string };
  exclusions: Exclusion[];
  /** Informational, never compared. */
  notes: string[];
  configurations: Record<string, { description: string; commands: string[][] }>;
  inputs: Record<string, FileHashes>;
  files: Record<string, FileHashes>;
  pg: Record<string, PgDigest>;
  summaries: Record<string, Json>;
}

interface Options {
  cli: string;
  fixtures: string;
  work: string;
  out?: string;
  compare?: string;
  only?: Set<string>;
  keep: boolean;
}

class UsageError extends Error {}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      cli: { type: 'string' },
      fixtures: { type: 'string' },
      work: { type: 'string' },
      out: { type: 'string' },
      compare: { type: 'string' },
      only: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const cli = resolve(values.cli ?? fileURLToPath(new URL('../coordinator/cli.js', import.meta.url)));
  if (values.out === undefined && values.compare === undefined)
    throw new UsageError('give --out FILE (write a manifest) and/or --compare FILE (compare with one)');
  let only: Set<string> | undefined;
  if (values.only !== undefined) {
    only = new Set(
      values.only
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    const unknown = [...only].filter((n) => !CONFIGS.some((c) => c.name === n));
    if (unknown.length > 0 || only.size === 0)
      throw new UsageError(
        `--only: unknown configuration(s) ${unknown.join(', ')}; choose from ${CONFIGS.map((c) => c.name).join(', ')}`,
      );
  }
  return {
    cli,
    // <repo>/dist/coordinator/cli.js → <repo>/test/fixtures
    fixtures: resolve(values.fixtures ?? resolve(cli, '../../../test/fixtures')),
    work: resolve(values.work ?? join(tmpdir(), 'shardflow-output-hashes')),
    out: values.out === undefined ? undefined : resolve(values.out),
    compare: values.compare === undefined ? undefined : resolve(values.compare),
    only,
    keep: values.keep,
  };
}

interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runProcess(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<ProcessResult>((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolvePromise({
        code: code ?? (signal === null ? 1 : 128),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
  });
}

/** Runs the CLI in `--work`; throws with the end of stderr unless it exits 0. */
async function runCli(opts: Options, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runProcess(process.execPath, [opts.cli, ...args], opts.work, env);
  if (r.code !== 0) {
    const tail = r.stderr.trim().split('\n').slice(-5).join('\n');
    throw new Error(`shardflow ${args.join(' ')} exited with ${r.code}:\n${tail}`);
  }
  return r.stdout;
}

/** The `--json` summary (the last stdout line) without its time fields. */
function summaryOf(stdout: string): Json {
  const lines = stdout.trim().split('\n');
  return withoutTimes(JSON.parse(lines[lines.length - 1]) as Json);
}

function withoutTimes(value: Json): Json {
  if (Array.isArray(value)) return value.map(withoutTimes);
  if (value === null || typeof value !== 'object') return value;
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'seconds' || k.endsWith('_seconds')) continue;
    out[k] = withoutTimes(v);
  }
  return out;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Every file under `root` (hidden ones too), sorted by relative path: sha256 and size. */
async function hashFiles(root: string): Promise<FileHashes> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const names = entries
    .filter((e) => !e.isDirectory())
    .map((e) => relative(root, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
  const out: FileHashes = {};
  for (const name of names) {
    const bytes = await readFile(join(root, name));
    out[name] = { sha256: sha256(bytes), size: bytes.length };
  }
  return out;
}

/** The environment of PostgreSQL runs and of this script's own client: PG* over the tests' defaults. */
function pgEnv(): NodeJS.ProcessEnv {
  return { ...PG_DEFAULTS, ...process.env };
}

function pgClientConfig(): pg.ClientConfig {
  const env = pgEnv();
  if (env.DATABASE_URL) return { connectionString: env.DATABASE_URL };
  return {
    host: env.PGHOST,
    port: Number(env.PGPORT),
    database: env.PGDATABASE,
    user: env.PGUSER,
    password: env.PGPASSWORD,
  };
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function withPg<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(pgClientConfig());
  await client.connect();
  try {
    // Text forms of dates and numbers independent of the server's or role's settings.
    await client.query("SET datestyle = 'ISO, YMD'; SET timezone = 'UTC'; SET extra_float_digits = 1");
    return await fn(client);
  } finally {
    await client.end();
  }
}

function dropSchema(schema: string): Promise<void> {
  return withPg(async (c) => {
    await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  });
}

/** The schema's relations, and per table its columns, row count and md5 of its rows in text order. */
function digestSchema(schema: string): Promise<PgDigest> {
  return withPg(async (c) => {
    const rels = await c.query<{ relname: string; relkind: string; relispartition: boolean }>(
      `SELECT c.relname, c.relkind::text AS relkind, c.relispartition FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY c.relname COLLATE "C"`,
      [schema],
    );
    const digest: PgDigest = { relations: rels.rows.map((r) => `${r.relname} [${r.relkind}]`), tables: {} };
    for (const rel of rels.rows) {
      if ((rel.relkind !== 'r' && rel.relkind !== 'p') || rel.relispartition) continue;
      const table = `${quoteIdent(schema)}.${quoteIdent(rel.relname)}`;
      const cols = await c.query<{ attname: string; type: string; attnotnull: boolean }>(
        `SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull FROM pg_attribute
         WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        [table],
      );
      const excluded = EXCLUDED_COLUMNS[rel.relname] ?? [];
      const kept = cols.rows.filter((col) => !excluded.includes(col.attname));
      const rowText =
        excluded.length === 0
          ? 't::text'
          : `ROW(${kept.map((col) => `t.${quoteIdent(col.attname)}`).join(', ')})::text`;
      const { rows } = await c.query<{ n: string; md5: string | null }>(
        `SELECT count(*)::text AS n, md5(string_agg(r, E'\\n' ORDER BY r COLLATE "C")) AS md5
         FROM (SELECT ${rowText} AS r FROM ${table} t) s`,
      );
      digest.tables[rel.relname] = {
        columns: cols.rows.map((col) => `${col.attname} ${col.type}${col.attnotnull ? ' not null' : ''}`),
        ...(excluded.length > 0 ? { excluded_columns: [...excluded] } : {}),
        rows: Number(rows[0].n),
        md5: rows[0].md5,
      };
    }
    return digest;
  });
}

function schemaOf(config: Config): string {
  return `baseline_${config.name.replaceAll('-', '_')}`;
}

/** The commands of one configuration, relative to `--work`. */
function commandsOf(config: Config): string[][] {
  const dir = `runs/${config.name}`;
  const base = [
    ...['run', config.job, ...config.args, '--out', `${dir}/out`, '--tmp-dir', `${dir}/tmp`],
    ...['--no-progress', '--json'],
  ];
  if (config.job === 'interactions')
    base.push(...(config.pg ? ['--pg-schema', schemaOf(config)] : ['--no-pg']));
  if (config.shards === undefined) return [base];
  return Array.from({ length: config.shards }, (_, i) => [
    ...base,
    ...[
      '--shard',
      `${i}/${config.shards}`,
      '--shuffle',
      `${dir}/shuffle`,
      '--run-id',
      `baseline-${config.name}`,
    ],
  ]);
}

async function prepareInput(opts: Options, input: InputSet): Promise<FileHashes> {
  const target = join(opts.work, input.path);
  await rm(target, { recursive: true, force: true });
  if (input.fixture !== undefined) {
    await cp(join(opts.fixtures, input.fixture), target, { recursive: true });
    return hashFiles(target);
  }
  await mkdir(join(target, '..'), { recursive: true });
  await runCli(opts, [...input.generate!, '--out', input.path], process.env);
  if ((await stat(target)).isDirectory()) return hashFiles(target);
  const bytes = await readFile(target);
  return { [basename(target)]: { sha256: sha256(bytes), size: bytes.length } };
}

async function runConfig(opts: Options, config: Config, manifest: Manifest): Promise<void> {
  const dir = join(opts.work, 'runs', config.name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const commands = commandsOf(config);
  const schema = schemaOf(config);
  // Non-PostgreSQL runs pass --no-pg, so the environment's PG* never loads anything there.
  const env = config.pg ? pgEnv() : process.env;
  if (config.pg) await dropSchema(schema);
  try {
    const stdouts = await Promise.all(commands.map((args) => runCli(opts, args, env)));
    manifest.configurations[config.name] = { description: config.description, commands };
    manifest.summaries[config.name] =
      config.shards === undefined
        ? summaryOf(stdouts[0])
        : Object.fromEntries(stdouts.map((s, i) => [`shard ${i}/${config.shards}`, summaryOf(s)]));
    manifest.files[config.name] = await hashFiles(join(dir, 'out'));
    if (config.pg) manifest.pg[config.name] = await digestSchema(schema);
  } finally {
    if (config.pg) await dropSchema(schema);
    await rm(join(dir, 'shuffle'), { recursive: true, force: true });
    await rm(join(dir, 'tmp'), { recursive: true, force: true });
  }
}

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: { [key: string]: Json } = {};
  for (const k of Object.keys(value).sort()) out[k] = sortKeys(value[k]);
  return out;
}

async function gitCommit(dir: string): Promise<string | null> {
  const r = await runProcess('git', ['-C', dir, 'rev-parse', 'HEAD'], dir, process.env).catch(() => null);
  return r !== null && r.code === 0 ? r.stdout.trim() : null;
}

/** JSON text of the manifest, formatted by prettier when it is installed (as `npm run lint` checks it). */
async function manifestText(manifest: Manifest, file: string): Promise<string> {
  const text = JSON.stringify(manifest, null, 2) + '\n';
  try {
    const prettier = await import('prettier');
    const config = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(text, { ...config, parser: 'json' });
  } catch {
    return text;
  }
}

function show(value: Json | undefined): string {
  return value === undefined ? '(absent)' : JSON.stringify(value);
}

/** Every difference between `a` (the baseline) and `b` (this run), one line each. */
function diff(path: string, a: unknown, b: unknown, out: string[]): void {
  diffJson(path, a as Json | undefined, b as Json | undefined, out);
}

function diffJson(path: string, a: Json | undefined, b: Json | undefined, out: string[]): void {
  const isObject = (v: Json | undefined): v is { [key: string]: Json } =>
    v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort())
      diffJson(`${path} › ${k}`, a[k], b[k], out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const sa = new Set(a.map((v) => JSON.stringify(v)));
    const sb = new Set(b.map((v) => JSON.stringify(v)));
    const before = out.length;
    for (const v of sa) if (!sb.has(v)) out.push(`${path}: only in the baseline: ${v}`);
    for (const v of sb) if (!sa.has(v)) out.push(`${path}: only in this run: ${v}`);
    if (out.length === before && JSON.stringify(a) !== JSON.stringify(b)) out.push(`${path}: order differs`);
    return;
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  if (a === undefined) out.push(`${path}: only in this run: ${show(b)}`);
  else if (b === undefined) out.push(`${path}: only in the baseline: ${show(a)}`);
  else out.push(`${path}: ${show(a)} → ${show(b)}`);
}

function compareManifests(baseline: Manifest, current: Manifest, configs: readonly Config[]): string[] {
  const out: string[] = [];
  if (baseline.format !== FORMAT) out.push(`format: ${baseline.format} → ${FORMAT}`);
  diff('exclusions', baseline.exclusions, current.exclusions, out);
  for (const name of Object.keys(current.inputs))
    diff(`inputs › ${name}`, baseline.inputs[name], current.inputs[name], out);
  for (const { name } of configs) {
    if (baseline.configurations[name] === undefined) {
      out.push(`configuration ${name}: not in the baseline`);
      continue;
    }
    diff(
      `configurations › ${name} › commands`,
      baseline.configurations[name].commands,
      current.configurations[name]?.commands,
      out,
    );
    const sections = ['files', 'pg', 'summaries'] as const;
    for (const s of sections)
      diff(
        `${s} › ${name}`,
        baseline[s][name] as Json | undefined,
        current[s][name] as Json | undefined,
        out,
      );
  }
  return out;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const configs = CONFIGS.filter((c) => opts.only === undefined || opts.only.has(c.name));
  const baseline =
    opts.compare === undefined ? undefined : (JSON.parse(await readFile(opts.compare, 'utf8')) as Manifest);
  const started = performance.now();
  const manifest: Manifest = {
    format: FORMAT,
    source: { commit: await gitCommit(resolve(opts.cli, '../../..')), node: process.version },
    exclusions: [...EXCLUSIONS],
    notes: [...NOTES],
    configurations: {},
    inputs: {},
    files: {},
    pg: {},
    summaries: {},
  };
  await mkdir(opts.work, { recursive: true });
  try {
    for (const input of INPUTS) {
      if (!configs.some((c) => c.input === input.name)) continue;
      manifest.inputs[input.name] = await prepareInput(opts, input);
    }
    for (const config of configs) {
      const t0 = performance.now();
      await runConfig(opts, config, manifest);
      const files = Object.keys(manifest.files[config.name]).length;
      const s = ((performance.now() - t0) / 1000).toFixed(1);
      process.stderr.write(`${config.name}: ${files} files${config.pg ? ', PostgreSQL' : ''}, ${s} s\n`);
    }
  } catch (err) {
    process.stderr.write(`scratch kept in ${opts.work}\n`);
    throw err;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const sorted = sortKeys(manifest as unknown as Json) as unknown as Manifest;
  if (opts.out !== undefined) {
    await mkdir(join(opts.out, '..'), { recursive: true });
    await writeFile(opts.out, await manifestText(sorted, opts.out));
  }
  const total = Object.values(sorted.files).reduce((n, f) => n + Object.keys(f).length, 0);
  process.stderr.write(`${configs.length} configurations, ${total} output files, ${seconds} s\n`);
  let differences: string[] = [];
  if (baseline !== undefined) {
    differences = compareManifests(baseline, sorted, configs);
    for (const line of differences) process.stdout.write(`${line}\n`);
    process.stdout.write(
      differences.length === 0
        ? `no differences from ${opts.compare}\n`
        : `${differences.length} difference(s) from ${opts.compare}\n`,
    );
  }
  if (!opts.keep && differences.length === 0) {
    await rm(join(opts.work, 'runs'), { recursive: true, force: true });
    await rm(join(opts.work, 'inputs'), { recursive: true, force: true });
    await rmdir(opts.work).catch(() => undefined); // only when empty
  } else {
    process.stderr.write(`scratch kept in ${opts.work}\n`);
  }
  if (differences.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`output-hashes: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
});
