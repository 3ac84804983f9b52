/** The messages between the coordinator and the workers for the callsign job's two stages. */

import type { StorageOptions } from 'shardflow/kernel';
import type { InputKind } from './normalize-record.js';

/** One split of one input object: it owns every line whose first byte lies in [start, end). */
export interface CallsignSplit {
  kind: InputKind;
  url: string;
  /** Index of the file among all inputs, collections first, in the order given. */
  fileIndex: number;
  start: number;
  end: number;
}

/** Maps one split: normalise, validate, group by partition and profile, fold partials, spill. */
export interface CallsignMapTask {
  stage: 'map';
  taskId: number;
  split: CallsignSplit;
  partitions: number;
  /** Local scratch file the task writes (see map-stage.ts for its layout). */
  spillPath: string;
  storage: StorageOptions;
}

/** Counts of one split, for the summary and the report. */
export interface SplitCounts {
  /** Lines owned, blank ones included. */
  lines: number;
  blank: number;
  accepted: number;
  /** Rejects by reason code (index into REJECT_REASONS). */
  rejected: number[];
  /** Accepted or rejected lines with a missing id, per field. */
  missingProfile: number;
  missingSession: number;
  missingCollection: number;
  /** Collections with no behaviour type; predictions with no model name. */
  noBehaviour: number;
  noModel: number;
}

export interface CallsignMapResult {
  taskId: number;
  counts: SplitCounts;
  /** Byte offsets in the spill of the P partition sections: section p is [sections[p], sections[p+1]). */
  sections: number[];
  /** Byte range in the spill of the rejects section (JSON: [[lineIndex, reason, raw], …]). */
  rejects: [number, number];
}

/** One spilled split as the reduce stage sees it. */
export interface SpilledSplit {
  kind: InputKind;
  spillPath: string;
  /** Byte range of this partition's section in the spill. */
  section: [number, number];
}

/**
 * Reduces one partition: writes each of its profiles' files (one at a time), merges the session
 * partials and runs the report's checks for the sessions and collection ids hashed to it.
 */
export interface CallsignReduceTask {
  stage: 'reduce';
  partition: number;
  /** Every split, in input order. */
  splits: SpilledSplit[];
  /** The output root (local path or s3:// URL). */
  out: string;
  storage: StorageOptions;
}

/** A count and the first ids (sorted) of a report check. */
export interface Sampled {
  count: number;
  sample: string[];
}

/** Empty aggregated-row columns, to append a partition's (or every partition's) rows to. */
export function emptyAggregatedRows(): CallsignReduceResult['rows'] {
  return { profile: [], session: [], collections: [], weighted: [], swipe: [], failed: [] };
}

export interface CallsignReduceResult {
  partition: number;
  profiles: number;
  labelFiles: number;
  predictionFiles: number;
  /** The partition's aggregated rows, sorted by (profile_id, session_id); columns. */
  rows: {
    profile: string[];
    session: (string | null)[];
    collections: number[];
    weighted: (number | null)[];
    swipe: (number | null)[];
    failed: number[];
  };
  checks: {
    sessionsUnderManyProfiles: Sampled;
    duplicateCollectionIds: Sampled;
    sessionsMissingInPredictions: Sampled;
    sessionsMissingInCollections: Sampled;
  };
}

export type CallsignTask = CallsignMapTask | CallsignReduceTask;
