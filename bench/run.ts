/**
 * `npm run bench`: runs shardflow and its peers side by side, each as a child process, on the same
 * generated input, and prints a markdown table (also written to bench/out/results-<date>.json).
 *   node dist/bench/run.js [--rows N[,N…]] [--shapes narrow,wide] [--scenarios counts,full]
 *                          [--engines shardflow,duckdb] [--repeat N] [--threads N]
 * With several row counts it is a scaling series: every scenario and shape at each size, then a
 * section per scenario, shape and engine saying whether peak RSS stayed under 1 GiB and whether wall
 * time grew no faster than the rows.
 */
import { spawn } from 'node:child_process';
import {
  access,
  constants,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  statfs,
  writeFile,
} from 'node:fs/promises';
import { arch, availableParallelism, cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { runAsEntry } from './entry.js';
import { generateCallsign } from '../jobs/callsign/generate.js';
import { generateInteractions, INTERACTIONS_SHAPES } from '../jobs/interactions/generate.js';
import { generateOrders, ORDER_SHAPES, type OrdersShape } from './generate-orders.js';

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Rows of generated input; several sizes make a scaling series. Default 10,000,000. */
  rows?: number | number[];
  /** Data shapes to run (a scenario runs those of its own shapes listed). Default every shape. */
  shapes?: string[];
  /** Scenario names to run, in order. Default every scenario. */
  scenarios?: string[];
  /** Engines to run in each scenario. Default every engine the scenario has. */
  engines?: string[];
  /** Runs per engine and scenario; the median wall time is reported. Default 1. */
  repeat?: number;
  /** Threads for the DuckDB peer. Default: DuckDB's own (all cores). */
  threads?: number;
}

/** What the harness hands to a scenario's command builders. */
export interface BenchContext {
  root: string;
  /** The scenario's input: the interactions CSV, or what the scenario's own `input` returned. */
  input: string;
  /** Bytes of the input, for MB/s. */
  inputBytes: number;
  /** The `--rows` bench size (also the rows of the interactions CSV). */
  rows: number;
  /** The data shape of this run (`-` for a scenario with one shape). */
  shape: string;
  threads: number | undefined;
  /** The loopback S3 server of the s3 scenario, while it runs. */
  s3?: { endpoint: string; stop: () => Promise<void> };
}

/** One child-process command; `needs` lists files that must exist, or the run is skipped. */
export interface EngineCommand {
  file: string;
  args: string[];
  needs?: string[];
  /** Run with SHARDFLOW_TRACE=1 and keep the `trace: <stage> … <s> s` lines as phases. */
  trace?: boolean;
}

/** A scenario's own input: a file or folder, its bytes (for MB/s), and its rows when known. */
export interface ScenarioInput {
  path: string;
  bytes: number;
  rows?: number;
}

/** One row of the scenarios table: a workload and how each engine runs it. */
export interface Scenario {
  name: string;
  description: string;
  /** Prepares (and caches) the scenario's own input; default the generated interactions CSV. */
  input?: (ctx: BenchContext) => Promise<ScenarioInput>;
  /** The data shapes it runs; default the interactions shapes, `[]` for one run without a shape. */
  shapes?: readonly string[];
  /** Estimated input bytes per row of each shape, for the disk statement before generating. */
  bytesPerRow?: (shape: string) => number;
  /** Engine name → command writing into the given output folder. */
  engines: Record<string, (ctx: BenchContext, out: string) => EngineCommand>;
  /** The engine the others are compared with; default `duckdb`. */
  peer?: string;
  /** Compare wall time (default) or load throughput (rows / load seconds, from the summary). */
  compare?: 'wall' | 'load';
  /** More peers, each with its own comparison (the pg scenario: psql's load, the whole path's wall). */
  morePeers?: readonly { engine: string; compare: 'wall' | 'load' }[];
  /** Engines given no ratio (their wall is not the scenario's work, e.g. one stage on one core). */
  unrated?: readonly string[];
  /** Optional per-engine set-up and tear-down (e.g. create / drop a PostgreSQL table). */
  before?: (ctx: BenchContext, engine: string) => Promise<void>;
  after?: (ctx: BenchContext, engine: string) => Promise<void>;
}

/** Result of one engine on one scenario (the median run when repeated). */
export interface BenchResult {
  scenario: string;
  engine: string;
  /** The bench size (`--rows`) and data shape of this run. */
  rows?: number;
  shape?: string;
  status: 'ok' | 'failed' | 'skipped';
  note?: string;
  wall_seconds?: number;
  wall_seconds_all?: number[];
  engine_seconds?: number;
  rows_read?: number;
  rows_valid?: number;
  peak_rss_bytes?: number;
  rss_source?: 'gnu-time' | 'self-reported';
  rows_per_s?: number;
  mb_per_s?: number;
  /** Rows loaded into PostgreSQL and the seconds the load took (pg scenario). */
  load_rows?: number;
  load_seconds?: number;
  load_rows_per_s?: number;
  /** Wall time ÷ the peer's (wall scenarios), or load throughput ÷ the peer's (load scenarios). */
  ratio_to_peer?: number;
  /** Every peer's ratio (see {@link Scenario.morePeers}), by peer engine. */
  ratios?: Record<string, number>;
  /** Seconds per phase: SHARDFLOW_TRACE stages and the summary's pg fields, or the peer's own. */
  phases?: Record<string, number>;
  /** The map stage's rows/s on one core (engine `map-1-core`). */
  map_rows_per_s_per_core?: number;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GNU_TIME = '/usr/bin/time';
const node = (script: string, args: string[]): EngineCommand => ({
  file: process.execPath,
  args: [join(ROOT, script), ...args],
  needs: [join(ROOT, script)],
});
const shardflow = (ctx: BenchContext, out: string, outputs: string): EngineCommand =>
  node('dist/coordinator/cli.js', [
    'run',
    'interactions',
    '--input',
    ctx.input,
    '--out',
    out,
    '--outputs',
    outputs,
    '--json',
  ]);
const duckdb = (ctx: BenchContext, out: string, mode: string): EngineCommand =>
  node('dist/bench/duckdb-interactions.js', [
    ...['--input', ctx.input, '--out', out, '--mode', mode],
    ...(ctx.threads === undefined ? [] : ['--threads', String(ctx.threads)]),
  ]);

/** PostgreSQL for the pg scenario: DATABASE_URL, else this machine's test database. */
const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function dropSchema(schema: string): Promise<void> {
  const { resolvePgConfig } = await import('../io/pg-config.js');
  const { openSqlClient } = await import('../io/sql-client.js');
  const client = await openSqlClient(resolvePgConfig({ url: PG_URL }), { maxConnections: 1 });
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.close();
  }
}

/** The scenarios table. Add S3 rows here. */
export const SCENARIOS: readonly Scenario[] = Object.freeze<Scenario[]>([
  {
    name: 'counts',
    description: 'CSV → validate, dedup → users, products, daily Parquet',
    engines: {
      shardflow: (ctx, out) => shardflow(ctx, out, 'users,products,daily'),
      duckdb: (ctx, out) => duckdb(ctx, out, 'counts'),
    },
  },
  {
    name: 'full',
    description:
      'CSV → validate, dedup → clean rows with counts, users, products, pairs, daily, rejects Parquet',
    engines: {
      shardflow: (ctx, out) => shardflow(ctx, out, FULL_OUTPUTS),
      duckdb: (ctx, out) => duckdb(ctx, out, 'full'),
    },
  },
  {
    name: 'pg',
    description:
      'clean rows into PostgreSQL: shardflow parallel COPY (first to last row, while producing them) vs psql \\copy of the same rows into the same partitioned table; and the whole run vs DuckDB cleaning to COPY text, psql \\copy, the same indexes, swap and VACUUM ANALYZE',
    peer: 'psql',
    compare: 'load',
    morePeers: [{ engine: 'duckdb-psql', compare: 'wall' }],
    engines: {
      shardflow: (ctx, out) => ({
        ...node('dist/coordinator/cli.js', [
          ...['run', 'interactions', '--input', ctx.input, '--out', out, '--outputs', 'clean'],
          ...['--pg', PG_URL, '--pg-schema', 'bench_shardflow', '--json'],
        ]),
        trace: true,
      }),
      psql: () =>
        node('dist/bench/psql-copy-peer.js', [
          ...[
            '--clean',
            join(ROOT, 'bench/out/pg-shardflow/clean'),
            '--pg',
            PG_URL,
            '--schema',
            'bench_psql',
          ],
        ]),
      'duckdb-psql': (ctx, out) =>
        node('dist/bench/pg-path-peer.js', [
          ...['--input', ctx.input, '--work', out, '--pg', PG_URL, '--schema', 'bench_duckdb_psql'],
          ...(ctx.threads === undefined ? [] : ['--threads', String(ctx.threads)]),
        ]),
    },
    after: async (_ctx, engine) => {
      if (engine === 'shardflow') await dropSchema('bench_shardflow');
      if (engine === 'duckdb-psql') await dropSchema('bench_duckdb_psql');
    },
  },
  {
    name: 's3',
    description:
      'the full job reading its input from and writing every output to a loopback S3 server (s3rver, on the same 2 cores) vs local disk',
    peer: 'local',
    engines: {
      local: (ctx, out) => shardflow(ctx, out, FULL_OUTPUTS),
      s3: (ctx) =>
        node('dist/coordinator/cli.js', [
          ...['run', 'interactions', '--input', BENCH_S3_INPUT, '--out', 's3://shardflow-bench/out'],
          ...['--s3-endpoint', ctx.s3?.endpoint ?? 'http://127.0.0.1:1', '--json'],
        ]),
    },
    before: async (ctx, engine) => {
      if (engine === 's3') ctx.s3 = await startBenchS3(ctx.input);
    },
    after: async (ctx, engine) => {
      if (engine === 's3') await ctx.s3?.stop();
      ctx.s3 = undefined;
    },
  },
  {
    name: 'shards',
    description:
      'the full job as 1, 2 and 4 shard processes over a directory shuffle (as pods of an Indexed Job), cores split between them, vs one process without a shuffle',
    peer: 'one-process',
    engines: {
      'one-process': (ctx, out) => shardflow(ctx, out, FULL_OUTPUTS),
      ...Object.fromEntries(
        [1, 2, 4].map((n) => [
          `shards-${n}`,
          (ctx: BenchContext, out: string) =>
            node('dist/bench/shards-run.js', [
              ...['--shards', String(n), '--input', ctx.input, '--out', out, '--', '--outputs', FULL_OUTPUTS],
            ]),
        ]),
      ),
    },
  },
  {
    name: 'callsign',
    description:
      'the callsign job on generated JSON Lines (~100 bytes per --rows): per-profile folders, session aggregates Parquet',
    input: (ctx) => ensureCallsignInput(ctx.rows),
    shapes: [],
    bytesPerRow: () => 104,
    engines: {
      shardflow: (ctx, out) =>
        node('dist/coordinator/cli.js', [
          ...['run', 'callsign', '--collections', join(ctx.input, 'collections.jsonl')],
          ...['--predictions', join(ctx.input, 'predictions.jsonl'), '--out', out, '--no-progress', '--json'],
        ]),
      duckdb: (ctx, out) =>
        node('dist/bench/duckdb-callsign.js', [
          ...['--collections', join(ctx.input, 'collections.jsonl')],
          ...['--predictions', join(ctx.input, 'predictions.jsonl'), '--out', out],
          ...(ctx.threads === undefined ? [] : ['--threads', String(ctx.threads)]),
        ]),
    },
  },
  {
    name: 'examples',
    description:
      'the generic engine: the customer-revenue example job (dedupe by order id, then count, revenue, first and last order per customer) on a generated orders CSV vs the same in DuckDB; map-1-core: its map stage alone on one core',
    input: (ctx) => ensureOrdersInput(ctx.rows, ctx.shape as OrdersShape),
    shapes: Object.keys(ORDER_SHAPES),
    bytesPerRow: () => 42,
    unrated: ['map-1-core'],
    engines: {
      shardflow: (ctx, out) =>
        node('dist/coordinator/cli.js', [
          ...['run', join(ROOT, 'dist/examples/customer-revenue.js'), '--orders', ctx.input],
          ...['--out', out, '--no-pg', '--no-progress', '--json'],
        ]),
      duckdb: (ctx, out) =>
        node('dist/bench/duckdb-orders.js', [
          ...['--input', ctx.input, '--out', out],
          ...(ctx.threads === undefined ? [] : ['--threads', String(ctx.threads)]),
        ]),
      'map-1-core': (ctx) =>
        node('dist/bench/map-stage-rate.js', [
          ...['--job', join(ROOT, 'dist/examples/customer-revenue.js'), '--input', `orders=${ctx.input}`],
        ]),
    },
  },
]);

const FULL_OUTPUTS = 'clean,users,products,pairs,daily,rejects';

/** Input bytes per row of each interactions shape (measured at 200k rows, seed 1). */
const INTERACTIONS_BYTES_PER_ROW: Record<string, number> = { narrow: 45.4, wide: 58.6 };

const BENCH_S3_INPUT = 's3://shardflow-bench/in/interactions.csv';

/** Starts s3rver on loopback and uploads the input (untimed); the run's credentials go to the children. */
async function startBenchS3(input: string): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const { startS3Server, useS3rverCredentials } = await import('../test/helpers/s3-server.js');
  const { configureStorage, storageFor } = await import('../io/storage.js');
  const server = await startS3Server({ buckets: ['shardflow-bench'] });
  try {
    useS3rverCredentials(); // the children inherit this process's environment
    configureStorage({ s3: { endpoint: server.endpoint } });
    const writer = (await storageFor(BENCH_S3_INPUT)).create(BENCH_S3_INPUT);
    const { createReadStream } = await import('node:fs');
    for await (const chunk of createReadStream(input, { highWaterMark: 8 * 1024 * 1024 }))
      await writer.write(chunk as Buffer);
    await writer.commit();
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** Defaults of {@link BenchOptions}. */
export const BENCH_DEFAULTS = Object.freeze({ rows: 10_000_000, repeat: 1 });

/** Runs the selected scenarios and returns every result; prints the table and writes the JSON file. */
export async function runBench(options: BenchOptions = {}): Promise<BenchResult[]> {
  const sizes = [options.rows ?? BENCH_DEFAULTS.rows].flat();
  const repeat = options.repeat ?? BENCH_DEFAULTS.repeat;
  for (const rows of sizes)
    if (!Number.isSafeInteger(rows) || rows < 1) throw new UsageError('--rows must be positive integers');
  if (!Number.isSafeInteger(repeat) || repeat < 1)
    throw new UsageError('--repeat must be a positive integer');
  const scenarios = (options.scenarios ?? SCENARIOS.map((s) => s.name)).map((name) => {
    const found = SCENARIOS.find((s) => s.name === name);
    if (!found)
      throw new UsageError(`--scenarios: unknown ${name}; known: ${SCENARIOS.map((s) => s.name).join(',')}`);
    return found;
  });
  const known = new Set(scenarios.flatMap((s) => Object.keys(s.engines)));
  for (const e of options.engines ?? []) {
    if (!known.has(e)) throw new UsageError(`--engines: unknown ${e}; known: ${[...known].join(',')}`);
  }
  const knownShapes = new Set(scenarios.flatMap((s) => shapesOf(s)));
  for (const shape of options.shapes ?? []) {
    if (!knownShapes.has(shape))
      throw new UsageError(`--shapes: unknown ${shape}; known: ${[...knownShapes].join(',')}`);
  }
  const runs = sizes.flatMap((rows) =>
    scenarios.flatMap((scenario) => {
      const own = shapesOf(scenario);
      const chosen =
        own.length === 0 ? ['-'] : own.filter((x) => !options.shapes || options.shapes.includes(x));
      return chosen.map((shape) => ({ rows, scenario, shape }));
    }),
  );
  await statDisk(runs);
  const hasGnuTime = await access(GNU_TIME, constants.X_OK).then(
    () => true,
    () => false,
  );
  const results: BenchResult[] = [];
  const inputs: Record<string, ScenarioInput> = {};
  for (const { rows, scenario, shape } of runs) {
    // Each run gets its own context: its input, and whatever its hooks attach (ctx.s3).
    const base = { root: ROOT, input: '', inputBytes: 0, rows, shape, threads: options.threads };
    const own = scenario.input ? await scenario.input(base) : await interactionsInput(rows, shape);
    const label = `${scenario.name} ${shape} ${rows.toLocaleString('en-US')}`;
    inputs[label] = own;
    const ctx: BenchContext = { ...base, input: own.path, inputBytes: own.bytes };
    const engines = Object.keys(scenario.engines).filter(
      (e) => !options.engines || options.engines.includes(e),
    );
    const mine: BenchResult[] = [];
    for (const engine of engines) {
      log(`${label} / ${engine}: ${repeat} run(s)`);
      mine.push({ ...(await runEngine(ctx, scenario, engine, repeat, hasGnuTime, own.rows)), rows, shape });
    }
    crossCheck(scenario, mine);
    results.push(...mine);
  }
  const report = markdownTable(inputs, results) + phasesSection(results) + scalingSection(results);
  process.stdout.write(report + '\n');
  await mkdir(join(ROOT, 'bench/out'), { recursive: true });
  const file = join(ROOT, 'bench/out', `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        host: await hostInfo(),
        rows: sizes,
        shapes: options.shapes ?? null,
        inputs,
        results,
      },
      null,
      2,
    ) + '\n',
  );
  log(`results written to ${file}`);
  return results;
}

/** A scenario's data shapes: its own list, or the interactions shapes. */
function shapesOf(scenario: Scenario): readonly string[] {
  return scenario.shapes ?? (scenario.input ? [] : INTERACTIONS_SHAPES);
}

/** Where the input of a run is cached (the narrow interactions keep their old name). */
function interactionsFile(rows: number, shape: string): string {
  return join(
    ROOT,
    'bench/data',
    shape === 'narrow' ? `interactions-${rows}.csv` : `interactions-${shape}-${rows}.csv`,
  );
}

/**
 * States the disk the series needs before it starts: the inputs still to generate (estimated from
 * bytes per row), what bench/data holds already, and the free space; stops when it does not fit.
 */
async function statDisk(runs: { rows: number; scenario: Scenario; shape: string }[]): Promise<void> {
  const data = join(ROOT, 'bench/data');
  await mkdir(data, { recursive: true });
  const todo = new Map<string, number>();
  for (const { rows, scenario, shape } of runs) {
    const estimate = rows * (scenario.bytesPerRow?.(shape) ?? INTERACTIONS_BYTES_PER_ROW[shape] ?? 60);
    const path = scenario.input ? `${scenario.name}-${shape}-${rows}` : interactionsFile(rows, shape);
    if (!scenario.input && (await stat(path).catch(() => undefined))) continue;
    todo.set(path, estimate);
  }
  const toGenerate = [...todo.values()].reduce((a, b) => a + b, 0);
  const cached = await dirBytes(data);
  const fs = await statfs(data);
  const free = fs.bavail * fs.bsize;
  const gb = (n: number): string => `${(n / 1e9).toFixed(2)} GB`;
  log(
    `disk: bench/data holds ${gb(cached)}; inputs not yet cached need up to ~${gb(toGenerate)} more ` +
      `(each scenario's own inputs are reused when cached); ${gb(free)} free. Outputs under ` +
      `bench/out/ take about the input's size again per engine of the largest run.`,
  );
  if (toGenerate > free)
    throw new UsageError(`not enough disk for the inputs: ~${gb(toGenerate)} needed, ${gb(free)} free`);
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    total += entry.isDirectory()
      ? await dirBytes(path)
      : ((await stat(path).catch(() => undefined))?.size ?? 0);
  }
  return total;
}

/** Generates bench/data/interactions[-<shape>]-<rows>.csv once (seed 1); later runs reuse it. */
async function interactionsInput(rows: number, shape: string): Promise<ScenarioInput> {
  const file = interactionsFile(rows, shape);
  if (!(await stat(file).catch(() => undefined))?.isFile()) {
    log(`generating ${file} (cached for later runs)`);
    const partial = `${file}.partial-${process.pid}`; // never leave a half-written file under the cached name
    const summary = await generateInteractions({
      rows,
      out: partial,
      seed: 1,
      shape: shape as (typeof INTERACTIONS_SHAPES)[number],
    });
    await rename(partial, file);
    log(`generated ${rows} rows, ${(summary.bytes / 1e6).toFixed(1)} MB in ${summary.seconds.toFixed(1)} s`);
  }
  return { path: file, bytes: (await stat(file)).size, rows };
}

/** Generates bench/data/orders-<shape>-<rows>.csv once (seed 1); later runs reuse it. */
async function ensureOrdersInput(rows: number, shape: OrdersShape): Promise<ScenarioInput> {
  const file = join(ROOT, 'bench/data', `orders-${shape}-${rows}.csv`);
  if (!(await stat(file).catch(() => undefined))?.isFile()) {
    log(`generating ${file} (cached for later runs)`);
    const partial = `${file}.partial-${process.pid}`;
    const summary = await generateOrders({ rows, shape, out: partial, seed: 1 });
    await rename(partial, file);
    log(
      `generated ${rows} orders (${summary.customers} customers), ${(summary.bytes / 1e6).toFixed(1)} MB ` +
        `in ${summary.seconds.toFixed(1)} s`,
    );
  }
  return { path: file, bytes: (await stat(file)).size, rows };
}

/** Profiles of the callsign input per `--rows`: 10,000,000 → 20,000 profiles, about 1 GB (issue #5). */
const ROWS_PER_CALLSIGN_PROFILE = 500;
/** Average sessions per profile of the callsign input (about 2.6 kB of both files a session). */
const CALLSIGN_SESSIONS_PER_PROFILE = 20;

/**
 * Generates bench/data/callsign-<rows>/ (collections.jsonl, predictions.jsonl; seed 1) once, into a
 * `.partial-<pid>` folder renamed at the end; later runs reuse it.
 */
async function ensureCallsignInput(rows: number): Promise<ScenarioInput> {
  const dir = join(ROOT, 'bench/data', `callsign-${rows}`);
  const files = ['collections.jsonl', 'predictions.jsonl'].map((f) => join(dir, f));
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
    const profiles = Math.max(1, Math.round(rows / ROWS_PER_CALLSIGN_PROFILE));
    log(`generating ${dir} (${profiles} profiles; cached for later runs)`);
    const partial = `${dir}.partial-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    const summary = await generateCallsign({
      profiles,
      sessionsPerProfile: CALLSIGN_SESSIONS_PER_PROFILE,
      out: partial,
      seed: 1,
    });
    await rename(partial, dir);
    log(
      `generated ${summary.collections} collections and ${summary.predictions} predictions, ` +
        `${(summary.bytes / 1e6).toFixed(1)} MB in ${summary.seconds.toFixed(1)} s`,
    );
  }
  let bytes = 0;
  for (const f of files) bytes += (await stat(f)).size;
  return { path: dir, bytes };
}

async function runEngine(
  ctx: BenchContext,
  scenario: Scenario,
  engine: string,
  repeat: number,
  hasGnuTime: boolean,
  inputRows: number | undefined,
): Promise<BenchResult> {
  const base = { scenario: scenario.name, engine };
  const out = join(ROOT, 'bench/out', `${scenario.name}-${engine}`);
  const command = scenario.engines[engine]!(ctx, out);
  for (const needed of command.needs ?? []) {
    if (!(await stat(needed).catch(() => undefined))) {
      log(`SKIPPED ${scenario.name} / ${engine}: ${needed} does not exist (build it first)`);
      return { ...base, status: 'skipped', note: `missing ${needed}` };
    }
  }
  const runs: BenchResult[] = [];
  for (let i = 0; i < repeat; i++) {
    await rm(out, { recursive: true, force: true });
    await scenario.before?.(ctx, engine);
    try {
      // Built again after `before`, which may have started a server the command names.
      const run = await measure(scenario.engines[engine]!(ctx, out), hasGnuTime);
      if (run.status !== 'ok') return { ...base, ...run };
      runs.push({ ...base, ...run });
    } finally {
      await scenario.after?.(ctx, engine);
    }
  }
  runs.sort((a, b) => a.wall_seconds! - b.wall_seconds!);
  const median = runs[Math.floor((runs.length - 1) / 2)]!;
  const rowsRead = median.rows_read ?? inputRows ?? ctx.rows;
  return {
    ...median,
    wall_seconds_all: runs.map((r) => r.wall_seconds!),
    rows_per_s: Math.round(rowsRead / median.wall_seconds!),
    mb_per_s: Number((ctx.inputBytes / 1e6 / median.wall_seconds!).toFixed(1)),
  };
}

/** Spawns one child (under GNU time when present) and measures wall time around spawn → exit. */
async function measure(
  command: EngineCommand,
  hasGnuTime: boolean,
): Promise<Omit<BenchResult, 'scenario' | 'engine'>> {
  const rssFile = join(ROOT, 'bench/out', `.rss-${process.pid}`);
  await mkdir(join(ROOT, 'bench/out'), { recursive: true });
  const [file, args] = hasGnuTime
    ? [GNU_TIME, ['-f', '%M', '-o', rssFile, command.file, ...command.args]]
    : [command.file, command.args];
  const started = performance.now();
  const child = spawn(file, args, {
    stdio: ['ignore', 'pipe', command.trace ? 'pipe' : 'inherit'],
    env: command.trace ? { ...process.env, SHARDFLOW_TRACE: '1' } : process.env,
  });
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  // Trace lines (`trace: <stage> <n> tasks <s> s, …`): forwarded to the terminal, stages summed.
  const traced: Record<string, number> = {};
  let pending = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    process.stderr.write(s);
    const lines = (pending + s).split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const m = /trace: (\S+) \d+ tasks ([\d.]+) s/.exec(line);
      if (m) traced[m[1]!] = Number(((traced[m[1]!] ?? 0) + Number(m[2])).toFixed(3));
    }
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  const wall = (performance.now() - started) / 1000;
  const lines = stdout.trim().split('\n');
  if (code !== 0) return { status: 'failed', note: `exit code ${code}: ${lines.slice(-3).join(' | ')}` };
  let summary: Record<string, unknown>;
  try {
    summary = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  } catch {
    return { status: 'failed', note: `last stdout line is not JSON: ${lines[lines.length - 1]}` };
  }
  const timeRss = hasGnuTime ? await readFile(rssFile, 'utf8').then(lastInteger, () => undefined) : undefined;
  await rm(rssFile, { force: true });
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const selfRss = num(summary.peak_rss_bytes);
  const pg = summary.pg as { rows?: number; copy_seconds?: number } | undefined;
  const load = summary.load as { rows?: number; seconds?: number } | undefined;
  const loadRows = num(pg?.rows ?? load?.rows);
  const loadSeconds = num(pg?.copy_seconds ?? load?.seconds);
  const finish = num((pg as { finish_seconds?: number } | undefined)?.finish_seconds);
  const own = summary.phases as Record<string, number> | undefined;
  const phases: Record<string, number> = {
    ...(own ?? traced),
    ...(pg && loadSeconds !== undefined ? { copy_overlapping: loadSeconds } : {}),
    ...(finish !== undefined ? { indexes_swap_vacuum_analyze: finish } : {}),
  };
  return {
    status: 'ok',
    wall_seconds: Number(wall.toFixed(3)),
    engine_seconds: num(summary.seconds),
    rows_read: num(summary.rows_read),
    rows_valid: num(summary.rows_valid),
    peak_rss_bytes: timeRss === undefined ? selfRss : timeRss * 1024,
    rss_source: timeRss === undefined ? 'self-reported' : 'gnu-time',
    load_rows: loadRows,
    load_seconds: loadSeconds,
    load_rows_per_s:
      loadRows !== undefined && loadSeconds !== undefined && loadSeconds > 0
        ? Math.round(loadRows / loadSeconds)
        : undefined,
    ...(Object.keys(phases).length > 0 ? { phases } : {}),
    map_rows_per_s_per_core: num(summary.map_rows_per_s_per_core),
  };
}

/** GNU time writes "%M" (KiB) last; a non-zero exit adds a line before it. */
function lastInteger(text: string): number | undefined {
  const n = Number(text.trim().split('\n').pop());
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * Compares every engine of a scenario with each peer: wall time, or load throughput. Every engine
 * must agree with a wall peer on rows_valid and rows_read, and with a load peer on the rows loaded;
 * say so loudly if not.
 */
function crossCheck(scenario: Scenario, results: BenchResult[]): void {
  const peers = [
    { engine: scenario.peer ?? 'duckdb', compare: scenario.compare ?? 'wall' },
    ...(scenario.morePeers ?? []),
  ];
  for (const [i, { engine, compare }] of peers.entries()) {
    const peer = results.find((r) => r.engine === engine && r.status === 'ok');
    if (!peer) continue;
    for (const r of results) {
      if (r === peer || r.status !== 'ok' || peers.some((p) => p.engine === r.engine)) continue;
      const unrated = scenario.unrated?.includes(r.engine) ?? false;
      if (compare === 'load') {
        if (r.load_rows_per_s !== undefined && peer.load_rows_per_s !== undefined && !unrated)
          rate(r, engine, r.load_rows_per_s / peer.load_rows_per_s, i === 0);
        if (r.load_rows !== peer.load_rows) mismatch(r, 'load_rows', peer);
        continue;
      }
      if (!unrated) rate(r, engine, r.wall_seconds! / peer.wall_seconds!, i === 0);
      for (const field of ['rows_valid', 'rows_read'] as const) {
        if (r[field] !== undefined && peer[field] !== undefined && r[field] !== peer[field])
          mismatch(r, field, peer);
      }
    }
    if (i === 0) peer.ratio_to_peer = 1;
  }
}

function rate(r: BenchResult, peer: string, ratio: number, first: boolean): void {
  r.ratios = { ...r.ratios, [peer]: Number(ratio.toFixed(2)) };
  if (first) r.ratio_to_peer = Number(ratio.toFixed(2));
}

function mismatch(r: BenchResult, field: 'rows_valid' | 'rows_read' | 'load_rows', peer: BenchResult): void {
  const banner = '!'.repeat(78);
  process.stderr.write(
    `\n${banner}\nMISMATCH in ${r.scenario} ${r.shape ?? ''} ${r.rows ?? ''}: ${r.engine} ${field}=${r[field]} but ${peer.engine} ${field}=${peer[field]}\n${banner}\n\n`,
  );
  r.note = `${field} mismatch vs ${peer.engine} (${r[field]} vs ${peer[field]})`;
  process.exitCode = 1;
}

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mib = (bytes: number | undefined): number | undefined =>
  bytes === undefined ? undefined : bytes / 2 ** 20;

function ratioText(r: BenchResult): string {
  if (r.ratios === undefined) return r.ratio_to_peer === undefined ? '–' : `${r.ratio_to_peer.toFixed(2)}×`;
  return Object.entries(r.ratios)
    .map(([peer, x]) => `${x.toFixed(2)}× ${peer}`)
    .join(', ');
}

function markdownTable(inputs: Record<string, ScenarioInput>, results: BenchResult[]): string {
  const head = Object.entries(inputs)
    .map(
      ([name, i]) =>
        `Input of ${name}: ${i.rows === undefined ? '' : `${i.rows.toLocaleString('en-US')} rows, `}` +
        `${(i.bytes / 1e6).toFixed(1)} MB (${i.path})\n`,
    )
    .join('')
    .concat('\n');
  const header =
    '| scenario | shape | rows | engine | wall s | rows/s | MB/s | peak RSS MiB | rows read | rows valid | load rows/s | vs peer | note |\n' +
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |';
  const body = results.map((r) =>
    [
      r.scenario,
      r.shape ?? '–',
      fmt(r.rows),
      r.engine,
      fmt(r.wall_seconds, 2),
      fmt(r.rows_per_s),
      fmt(r.mb_per_s, 1),
      fmt(mib(r.peak_rss_bytes)),
      fmt(r.rows_read),
      fmt(r.rows_valid),
      fmt(r.load_rows_per_s),
      ratioText(r),
      r.status === 'ok' ? (r.note ?? '') : `${r.status}: ${r.note ?? ''}`,
    ].join(' | '),
  );
  return head + [header, ...body.map((b) => `| ${b} |`)].join('\n');
}

/**
 * Where each run's time went: the SHARDFLOW_TRACE stages and the summary's pg fields (shardflow),
 * the whole-path peer's own phases, and the map stage's rows/s per core.
 */
function phasesSection(results: BenchResult[]): string {
  const rows = results.filter((r) => r.phases !== undefined || r.map_rows_per_s_per_core !== undefined);
  if (rows.length === 0) return '';
  const lines = rows.map((r) => {
    const phases = Object.entries(r.phases ?? {})
      .map(([name, seconds]) => `${name} ${seconds.toFixed(2)} s`)
      .join(', ');
    const perCore =
      r.map_rows_per_s_per_core === undefined
        ? ''
        : `map stage ${fmt(r.map_rows_per_s_per_core)} rows/s per core`;
    return `| ${r.scenario} | ${r.shape ?? '–'} | ${fmt(r.rows)} | ${r.engine} | ${fmt(r.wall_seconds, 2)} | ${[phases, perCore].filter(Boolean).join('; ')} |`;
  });
  return (
    '\n\n### Phases\n\n| scenario | shape | rows | engine | wall s | phases (s) |\n| --- | --- | ---: | --- | ---: | --- |\n' +
    lines.join('\n')
  );
}

/** Peak RSS limit of the scaling series (issue #10, section 7). */
const RSS_LIMIT_BYTES = 2 ** 30;
/** A step of the series grows "no faster than the rows" when wall grew at most this much more than rows did. */
const WALL_GROWTH_SLACK = 1.1;

/**
 * Per scenario, shape and engine over the sizes run: wall, rows/s and peak RSS at each size, then
 * whether peak RSS stayed under 1 GiB and whether each step's wall grew no faster than its rows.
 */
function scalingSection(results: BenchResult[]): string {
  const groups = new Map<string, BenchResult[]>();
  for (const r of results.filter((x) => x.status === 'ok' && x.rows !== undefined)) {
    const key = `${r.scenario} | ${r.shape ?? '–'} | ${r.engine}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const series = [...groups].filter(([, runs]) => new Set(runs.map((r) => r.rows)).size > 1);
  if (series.length === 0) return '';
  const out = ['\n\n### Scaling\n'];
  for (const [key, runs] of series) {
    runs.sort((a, b) => a.rows! - b.rows!);
    out.push(`\n**${key}**\n`, '| rows | wall s | rows/s | peak RSS MiB |', '| ---: | ---: | ---: | ---: |');
    for (const r of runs)
      out.push(
        `| ${fmt(r.rows)} | ${fmt(r.wall_seconds, 2)} | ${fmt(r.rows_per_s)} | ${fmt(mib(r.peak_rss_bytes))} |`,
      );
    const peak = Math.max(...runs.map((r) => r.peak_rss_bytes ?? Infinity));
    const steps = runs.slice(1).map((r, i) => {
      const prev = runs[i]!;
      const wall = r.wall_seconds! / prev.wall_seconds!;
      const rows = r.rows! / prev.rows!;
      return {
        ok: wall <= rows * WALL_GROWTH_SLACK,
        text: `${fmt(prev.rows)} → ${fmt(r.rows)}: rows ×${rows.toFixed(2)}, wall ×${wall.toFixed(2)}`,
      };
    });
    out.push(
      '',
      `- peak RSS under 1 GiB at every size: ${peak < RSS_LIMIT_BYTES ? 'yes' : 'NO'} (largest ${fmt(mib(peak))} MiB)`,
      `- wall grew no faster than rows (each step's wall ratio ≤ ${WALL_GROWTH_SLACK} × its rows ratio): ` +
        `${steps.every((x) => x.ok) ? 'yes' : 'NO'} (${steps.map((x) => x.text).join('; ')})`,
    );
  }
  return out.join('\n');
}

async function hostInfo(): Promise<Record<string, unknown>> {
  const duckdbPackage = await readFile(join(ROOT, 'node_modules/@duckdb/node-api/package.json'), 'utf8')
    .then((t) => (JSON.parse(t) as { version: string }).version)
    .catch(() => undefined);
  return {
    node: process.version,
    platform: `${platform()} ${release()} ${arch()}`,
    cpus: availableParallelism(),
    cpu_model: cpus()[0]?.model,
    total_memory_bytes: totalmem(),
    duckdb_node_api: duckdbPackage,
  };
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function parseCount(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive integer, got ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string' },
      shapes: { type: 'string' },
      scenarios: { type: 'string' },
      engines: { type: 'string' },
      repeat: { type: 'string' },
      threads: { type: 'string' },
    },
  });
  const list = (v: string | undefined): string[] | undefined =>
    v
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  await runBench({
    rows: list(values.rows)?.map((n) => parseCount('rows', n)!),
    shapes: list(values.shapes),
    repeat: parseCount('repeat', values.repeat),
    threads: parseCount('threads', values.threads),
    scenarios: list(values.scenarios),
    engines: list(values.engines),
  });
}

runAsEntry(import.meta.url, 'bench', main);
