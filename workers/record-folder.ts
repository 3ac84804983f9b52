/**
 * What a task does with each record's fate: counts read, valid and rejected rows, spills each
 * reject (its line within the split, reason and raw text) to a file in the run's scratch
 * directory, and folds the updates of valid records into keyed state. Rejects never stay in
 * memory: a split of bad rows costs a 1 MiB buffer, not its size.
 */

import { ShardflowError } from '../errors.js';
import { isReject } from '../engine/define-job.js';
import type { KeyedState } from '../engine/keyed-state.js';
import type { JobContext, MapResult, StageSpec, Update } from '../engine/job-contract.js';
import type { RejectsSpill } from './rejects-spill.js';

export class RecordFolder {
  rowsRead = 0;
  rowsValid = 0;
  readonly rejected: Record<string, number> = {};
  constructor(
    readonly state: KeyedState,
    readonly spill: RejectsSpill,
  ) {}

  reject(line: number, reason: string, raw: () => string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    this.spill.add(line, reason, raw());
  }

  apply(result: MapResult, line: number, position: number, raw: () => string): void {
    if (isReject(result)) return this.reject(line, result.reject, raw);
    this.rowsValid++;
    if (result === null || result === undefined) return;
    if (Array.isArray(result))
      for (const u of result as readonly Update[]) this.state.update(u.key, u.values, position);
    else this.state.update((result as Update).key, (result as Update).values, position);
  }
}

/** A stage's map on one record; an exception is the job's bug, named by its stage (exit 1). */
export function callMap(
  stage: StageSpec,
  record: Readonly<Record<string, unknown>>,
  ctx: JobContext,
): MapResult {
  try {
    return stage.map(record, ctx);
  } catch (err) {
    throw new ShardflowError(
      'E_JOB_MAP',
      `stage "${stage.name}": map threw on a record: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
