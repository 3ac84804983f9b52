/**
 * The default run id: what keys a run's shuffle (`<shuffle>/<run id>/…`), its PostgreSQL load
 * ledger and its metrics. The same job over the same input contents with the same output-shaping
 * settings gets the same id, so a restarted shard resumes its run; input replaced under the same
 * path (another size, mtime or ETag) gets a new one, so a rerun never reuses an old shuffle or
 * ledger (issue #10).
 */

import { createHash } from 'node:crypto';
import type { InputFile } from '../io/input-paths.js';

/**
 * sha256 of a canonical JSON of `job`, each input's path, size and version in order, and
 * `settings` (object keys sorted at every level), as 12 hex characters.
 */
export function computeRunId(
  job: string,
  inputs: readonly InputFile[],
  settings: Record<string, unknown>,
): string {
  const shape = {
    job,
    inputs: inputs.map((f) => [f.path, f.size, f.version]),
    settings,
  };
  return createHash('sha256').update(canonicalJson(shape)).digest('hex').slice(0, 12);
}

/** JSON with object keys in sorted order, so equal settings give equal text whatever their order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Set) return [...(v as Set<unknown>)].map((x) => canonicalJson(x)).sort();
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}
