/**
 * The callsign job's `validation/report.json` (issue #5, the seed's unit-test tables as one
 * report): lines and rejects per file, blank or missing ids per field and file, sessions under more
 * than one profile, duplicate collection ids, sessions present in one file only, collections with no
 * behaviour type and predictions with no model name. The same facts as a table for people.
 */

import { formatTable } from 'shardflow/kernel';
import { REJECT_REASONS, type InputKind } from './normalize-record.js';
import { SAMPLE_SIZE } from './reduce-stage.js';
import type { CallsignReduceResult, Sampled, SplitCounts } from './tasks.js';

/** Lines of one input kind. */
export interface FileStats {
  lines: number;
  blank_lines: number;
  /** Non-blank lines: accepted + rejected. */
  rows_read: number;
  accepted: number;
  rejected: number;
  rejected_by_reason: Record<string, number>;
}

export interface ValidationReport {
  files: Record<InputKind, FileStats>;
  /** Absent, null or blank ids, per file and field (profile ids among rejects, the others among accepted lines). */
  missing_ids: Record<InputKind, { profile_id: number; session_id: number; collection_id: number }>;
  sessions_under_many_profiles: Sampled;
  duplicate_collection_ids: Sampled;
  sessions_missing_in_predictions: Sampled;
  sessions_missing_in_collections: Sampled;
  collections_without_behaviour_type: number;
  predictions_without_model_name: number;
}

function emptyStats(): FileStats {
  return {
    lines: 0,
    blank_lines: 0,
    rows_read: 0,
    accepted: 0,
    rejected: 0,
    rejected_by_reason: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])),
  };
}

function mergeSampled(parts: Sampled[]): Sampled {
  const all = parts.flatMap((p) => p.sample).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { count: parts.reduce((n, p) => n + p.count, 0), sample: all.slice(0, SAMPLE_SIZE) };
}

/** Builds the report from the map stage's counts (with each split's kind) and the reduce results. */
export function buildReport(
  splits: readonly { kind: InputKind; counts: SplitCounts }[],
  reduces: readonly CallsignReduceResult[],
): ValidationReport {
  const files = { collections: emptyStats(), predictions: emptyStats() };
  const missing = {
    collections: { profile_id: 0, session_id: 0, collection_id: 0 },
    predictions: { profile_id: 0, session_id: 0, collection_id: 0 },
  };
  let noBehaviour = 0;
  let noModel = 0;
  for (const { kind, counts: c } of splits) {
    const f = files[kind];
    f.lines += c.lines;
    f.blank_lines += c.blank;
    f.accepted += c.accepted;
    c.rejected.forEach((n, r) => {
      f.rejected += n;
      f.rejected_by_reason[REJECT_REASONS[r]] += n;
    });
    f.rows_read = f.accepted + f.rejected;
    missing[kind].profile_id += c.missingProfile;
    missing[kind].session_id += c.missingSession;
    missing[kind].collection_id += c.missingCollection;
    noBehaviour += c.noBehaviour;
    noModel += c.noModel;
  }
  const checks = reduces.map((r) => r.checks);
  return {
    files,
    missing_ids: missing,
    sessions_under_many_profiles: mergeSampled(checks.map((c) => c.sessionsUnderManyProfiles)),
    duplicate_collection_ids: mergeSampled(checks.map((c) => c.duplicateCollectionIds)),
    sessions_missing_in_predictions: mergeSampled(checks.map((c) => c.sessionsMissingInPredictions)),
    sessions_missing_in_collections: mergeSampled(checks.map((c) => c.sessionsMissingInCollections)),
    collections_without_behaviour_type: noBehaviour,
    predictions_without_model_name: noModel,
  };
}

/** The report as an aligned table (one line per check, with a sample of ids where there is one). */
export function formatReport(report: ValidationReport): string {
  const rows: Record<string, unknown>[] = [];
  for (const kind of ['collections', 'predictions'] as const) {
    const f = report.files[kind];
    rows.push({ check: `${kind}: lines (blank)`, count: f.lines, sample: `${f.blank_lines} blank` });
    rows.push({ check: `${kind}: accepted`, count: f.accepted, sample: '' });
    for (const [reason, n] of Object.entries(f.rejected_by_reason))
      if (n > 0) rows.push({ check: `${kind}: rejected ${reason}`, count: n, sample: '' });
    for (const [field, n] of Object.entries(report.missing_ids[kind]))
      rows.push({ check: `${kind}: missing ${field}`, count: n, sample: '' });
  }
  const sampledRow = (check: string, s: Sampled) =>
    rows.push({ check, count: s.count, sample: s.sample.map((id) => JSON.stringify(id)).join(' ') });
  sampledRow('sessions under more than one profile', report.sessions_under_many_profiles);
  sampledRow('duplicate collection ids', report.duplicate_collection_ids);
  sampledRow('sessions missing in predictions', report.sessions_missing_in_predictions);
  sampledRow('sessions missing in collections', report.sessions_missing_in_collections);
  rows.push({
    check: 'collections without behaviour type',
    count: report.collections_without_behaviour_type,
    sample: '',
  });
  rows.push({
    check: 'predictions without model name',
    count: report.predictions_without_model_name,
    sample: '',
  });
  return formatTable(rows, ['check', 'count', 'sample']);
}
