/**
 * The generic engine's map stage on one core: plans a job's input as the engine does, then runs
 * every map task in turn on this thread (no pool, no reduce), so rows / map seconds is the map
 * stage's rows/s per core.
 *
 *   node dist/bench/map-stage-rate.js --job FILE.js --input NAME=PATH [--split-size BYTES] [--partitions P]
 *
 * Prints one JSON line: `{ engine, rows_read, rows_valid, splits, seconds, map_seconds,
 * map_cpu_seconds, map_rows_per_s_per_core, peak_rss_bytes }`.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { planJobInputs } from '../coordinator/job-plan.js';
import { loadJob, runJobTask, type JobMapResult, type JobMapTask } from '../workers/job-task.js';
import { runAsEntry } from './entry.js';

async function main(): Promise<void> {
  const started = performance.now();
  const { values } = parseArgs({
    options: {
      job: { type: 'string' },
      input: { type: 'string' },
      'split-size': { type: 'string', default: String(32 * 2 ** 20) },
      partitions: { type: 'string', default: '16' },
    },
  });
  const [name, path] = (values.input ?? '').split(/=(.*)/s);
  if (!values.job || !name || !path) throw new UsageError('--job FILE.js and --input NAME=PATH are required');
  const splitBytes = Number(values['split-size']);
  const partitions = Number(values.partitions);
  if (!Number.isSafeInteger(splitBytes) || splitBytes < 1)
    throw new UsageError('--split-size must be a positive integer');
  if (!Number.isSafeInteger(partitions) || partitions < 1)
    throw new UsageError('--partitions must be a positive integer');
  const jobUrl = pathToFileURL(resolve(values.job)).href;
  const job = await loadJob(jobUrl);
  // The job's option defaults, as the engine resolves them when no flag is given.
  const options = Object.fromEntries(
    Object.entries(job.options ?? {}).map(([k, spec]) => [k, (spec as { default?: unknown }).default]),
  );
  const plan = await planJobInputs(job, { [name]: [resolve(path)] }, splitBytes);
  let rowsRead = 0;
  let rowsValid = 0;
  // Each map task spills its rejects to a file in the run's scratch directory.
  const scratch = await mkdtemp(join(tmpdir(), 'shardflow-map-rate-'));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    for (const [i, split] of plan.splits.entries()) {
      const rejectsSpill = join(scratch, `map-${i}.rejects`);
      const task: JobMapTask = {
        kind: 'job',
        step: 'map',
        jobUrl,
        options,
        partitions,
        split,
        owner: i,
        rejectsSpill,
      };
      const r = (await runJobTask(task)) as JobMapResult;
      rowsRead += r.rowsRead;
      rowsValid += r.rowsValid;
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const mapSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    `${JSON.stringify({
      engine: 'map-1-core',
      rows_read: rowsRead,
      rows_valid: rowsValid,
      splits: plan.splits.length,
      seconds: (performance.now() - started) / 1000,
      map_seconds: Number(mapSeconds.toFixed(3)),
      map_cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
      map_rows_per_s_per_core: Math.round(rowsRead / mapSeconds),
      peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    })}\n`,
  );
}

runAsEntry(import.meta.url, 'map-stage-rate', main);
