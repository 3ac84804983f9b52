/**
 * The per-(profile_id, session_id) aggregate of the callsign job as a monoid (ARCHITECTURE:
 * aggregates are monoids): `update` folds one accepted line, `merge` combines two partials, and
 * `finalize` gives the output row. Sums are exact (see engine/exact-sum.ts), so any split of the input
 * gives the same bits. Each prediction is counted once (issue #5: the seed's row join between the
 * two files inflated these).
 *
 * A partial is plain data (it crosses the spill as JSON); its size grows with the session's
 * distinct collection ids only.
 */

import { exactAdd, exactMerge, exactValue } from 'shardflow/kernel';
import type { AcceptedRecord, InputKind } from './normalize-record.js';

/** Models whose null score is a failed keystroke prediction. */
export const KEYSTROKE_MODELS: ReadonlySet<string> = new Set(['keystroke_model', 'keystrokes_model']);
/** The model whose scores `mean_swipe_score` averages. */
export const SWIPE_MODEL = 'swipe_model';

export interface SessionPartial {
  /** Distinct collection ids in collections, in first-seen order. */
  cids: string[];
  /** Lines in collections / predictions. */
  nc: number;
  np: number;
  /** Exact partial sums of score × confidence and of confidence, over predictions with both. */
  ws: number[];
  wc: number[];
  /** Exact partial sum and count of swipe-model scores. */
  ss: number[];
  sn: number;
  /** Keystroke-model predictions with a null or missing score. */
  fk: number;
}

/** One row of `aggregated-result`. */
export interface SessionRow {
  profile_id: string;
  session_id: string | null;
  collections: number;
  weighted_mean_score: number | null;
  mean_swipe_score: number | null;
  failed_keystroke_predictions: number;
}

export function initPartial(): SessionPartial {
  return { cids: [], nc: 0, np: 0, ws: [], wc: [], ss: [], sn: 0, fk: 0 };
}

/**
 * Folds one accepted line into `p`. `seen` holds the partial's collection ids for O(1) distinct
 * checks while a split is mapped (the caller keeps one per partial).
 */
export function updatePartial(
  p: SessionPartial,
  kind: InputKind,
  r: Pick<AcceptedRecord, 'collectionId' | 'modelName' | 'score' | 'confidence'>,
  seen: Set<string>,
): void {
  if (kind === 'collections') {
    p.nc++;
    if (r.collectionId !== null && !seen.has(r.collectionId)) {
      seen.add(r.collectionId);
      p.cids.push(r.collectionId);
    }
    return;
  }
  p.np++;
  const product = r.score !== null && r.confidence !== null ? r.score * r.confidence : NaN;
  if (Number.isFinite(product)) {
    exactAdd(p.ws, product);
    exactAdd(p.wc, r.confidence as number);
  }
  if (r.modelName === SWIPE_MODEL && r.score !== null) {
    exactAdd(p.ss, r.score);
    p.sn++;
  }
  if (r.modelName !== null && KEYSTROKE_MODELS.has(r.modelName) && r.score === null) p.fk++;
}

/** Merges `b` into `a` (a is changed); `seen` is a's distinct collection ids. */
export function mergePartial(a: SessionPartial, b: SessionPartial, seen: Set<string>): void {
  for (const c of b.cids) {
    if (!seen.has(c)) {
      seen.add(c);
      a.cids.push(c);
    }
  }
  a.nc += b.nc;
  a.np += b.np;
  exactMerge(a.ws, b.ws);
  exactMerge(a.wc, b.wc);
  exactMerge(a.ss, b.ss);
  a.sn += b.sn;
  a.fk += b.fk;
}

export function finalizePartial(profileId: string, sessionId: string | null, p: SessionPartial): SessionRow {
  const conf = exactValue(p.wc);
  return {
    profile_id: profileId,
    session_id: sessionId,
    collections: p.cids.length,
    // No prediction with both values, or confidences summing to 0: no weighted mean.
    weighted_mean_score: p.wc.length === 0 || conf === 0 ? null : exactValue(p.ws) / conf,
    mean_swipe_score: p.sn === 0 ? null : exactValue(p.ss) / p.sn,
    failed_keystroke_predictions: p.fk,
  };
}
