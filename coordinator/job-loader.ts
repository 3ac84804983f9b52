/**
 * Finds a job module: a built-in name (`jobs/<name>/job.js` beside the engine) or a path to a
 * user's file (`./my-job.js`, absolute, or a file: URL). The built-in jobs are whatever that
 * folder holds: no list of jobs exists in the engine.
 */

import { readdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ShardflowError, UsageError } from '../errors.js';
import { isJobDefinition } from '../engine/define-job.js';
import type { JobDefinition } from '../engine/job-contract.js';

const JOBS_DIR = new URL('../jobs/', import.meta.url);
const MODULE_FILE = 'job.js';

/** A job module, loaded and checked. */
export interface LoadedJob {
  url: string;
  job: JobDefinition;
}

/** True when `spec` names a file rather than a built-in job. */
export function isJobPath(spec: string): boolean {
  return spec.includes('/') || spec.includes('\\') || /\.(m?js|cjs)$/.test(spec) || spec.startsWith('file:');
}

/** Loads the job `spec` names. */
export async function loadJobModule(spec: string): Promise<LoadedJob> {
  let url: string;
  if (isJobPath(spec)) {
    const path = spec.startsWith('file:') ? fileURLToPath(spec) : resolve(spec);
    const info = await stat(path).catch(() => null);
    if (info === null || !info.isFile())
      throw new ShardflowError(
        'E_JOB_NOT_FOUND',
        `${spec}: no such job file (give the path of a .js module that exports defineJob(...))`,
        { exitCode: 2 },
      );
    url = pathToFileURL(path).href;
  } else {
    url = new URL(`${spec}/${MODULE_FILE}`, JOBS_DIR).href;
    if (!/^[a-z][a-z0-9-]*$/.test(spec) || (await stat(fileURLToPath(url)).catch(() => null)) === null) {
      const names = (await builtinJobs()).map((j) => j.job.name);
      throw new UsageError(
        `unknown job "${spec}"; built-in jobs: ${names.join(', ')}; or give the path of a job file (./my-job.js)`,
      );
    }
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(url)) as { default?: unknown };
  } catch (err) {
    throw new ShardflowError(
      'E_JOB_LOAD',
      `${spec}: the job module failed to load: ${(err as Error).message}`,
      { exitCode: 2, cause: err },
    );
  }
  if (!isJobDefinition(mod.default))
    throw new ShardflowError(
      'E_NOT_A_JOB',
      `${spec}: its default export is not a job; write \`export default defineJob({...})\` (import { defineJob } from 'shardflow')`,
      {
        exitCode: 2,
      },
    );
  return { url, job: mod.default };
}

/** The built-in jobs on the engine, by name. */
export async function builtinJobs(): Promise<LoadedJob[]> {
  const entries = await readdir(JOBS_DIR, { withFileTypes: true }).catch(() => []);
  const out: LoadedJob[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!e.isDirectory()) continue;
    const file = new URL(`${e.name}/${MODULE_FILE}`, JOBS_DIR);
    if ((await stat(fileURLToPath(file)).catch(() => null)) === null) continue;
    out.push(await loadJobModule(e.name));
  }
  return out;
}
