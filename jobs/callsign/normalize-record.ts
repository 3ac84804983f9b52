/**
 * The accepted variants of a callsign input line and their normal form (issue #5; the README's
 * "callsign job" section is the user-facing copy of these rules).
 *
 * - A line is one JSON object. Not JSON → `bad_json`; JSON but not an object → `not_an_object`;
 *   longer than 1 MiB → `line_too_long` (decided by the reader, before parsing); a NUL byte or
 *   invalid UTF-8 anywhere in it → `bad_encoding` (decided by the map stage on the line's bytes,
 *   before decoding them: U+FFFD in their place would make two different ids one).
 *   Order: line_too_long, bad_encoding, bad_json, not_an_object, then the profile id's reasons.
 * - Metadata lives under `metadata`, or at the top level, or both (`metadata` wins a clash): every
 *   top-level key other than `metadata` and the body (`behaviour` in collections, `prediction` in
 *   predictions) is metadata.
 * - Ids (`profile_id`, `session_id`, `collection_id`) may be spelt `profileId`, `sessionId`,
 *   `collectionId` (snake case wins a clash) and may be strings or numbers; numbers become their
 *   decimal text (exact, even beyond 2^53). An id that is absent, null, blank (only spaces) or of
 *   another type is missing. A missing `profile_id` is a reject (`missing_profile_id`; another type
 *   is `bad_profile_id`); its escaped folder name longer than 255 bytes is `profile_id_too_long`.
 *   A missing session or collection id is kept as null and counted in the report.
 * - `score` and `confidence` are numbers; null, absent or any other type is null.
 *
 * The normal form: `{"metadata":{"profile_id","session_id","collection_id",…other metadata in
 * first-seen order},"<body>":…}` with ids as strings (or null), as one line of compact JSON.
 */

import { quoteBigIds } from './big-ids.js';
import { MAX_FOLDER_NAME_BYTES, hiveFolder } from 'shardflow/kernel';

/** Which input a line comes from. */
export type InputKind = 'collections' | 'predictions';

/** Reject reasons, in the order of their codes. */
export const REJECT_REASONS = [
  'bad_json',
  'not_an_object',
  'line_too_long',
  'bad_encoding',
  'missing_profile_id',
  'bad_profile_id',
  'profile_id_too_long',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** The longest accepted line, in bytes without its line break: 1 MiB. */
export const MAX_LINE_BYTES = 1024 * 1024;
/** A reject keeps at most this many characters of its raw line. */
export const MAX_RAW_CHARS = 4096;

/** The folder name the profile folders use: `profile-id=<escaped id>`. */
export const PROFILE_FOLDER_KEY = 'profile-id';

/** An accepted line: its normal form and what the aggregates and the report need. */
export interface AcceptedRecord {
  ok: true;
  profileId: string;
  sessionId: string | null;
  collectionId: string | null;
  /** The normalised line (compact JSON, no line break). */
  line: string;
  /** Collections: behaviour types present (keys of each device object under `behaviour`). */
  behaviourTypes: number;
  /** Predictions: `prediction.model_name`, or null when missing or blank. */
  modelName: string | null;
  score: number | null;
  confidence: number | null;
}

export interface RejectedRecord {
  ok: false;
  reason: RejectReason;
  /** True when the profile id was absent or blank (the report counts these per file). */
  missingProfile: boolean;
}

const ALIASES = {
  profile_id: 'profileId',
  session_id: 'sessionId',
  collection_id: 'collectionId',
} as const;
type IdField = keyof typeof ALIASES;
const ID_NAMES = new Set<string>([...Object.keys(ALIASES), ...Object.values(ALIASES)]);

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An id as text: undefined when absent or blank, null when of another type. */
function idText(v: unknown): string | undefined | null {
  if (typeof v === 'string') return v.trim() === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (v === undefined || v === null) return undefined;
  return null;
}

/** The first present id among the spellings, metadata before top level, snake before camel. */
function findId(meta: Json, top: Json, field: IdField): string | undefined | null {
  let bad = false;
  for (const source of [meta, top]) {
    for (const name of [field, ALIASES[field]]) {
      const t = idText(source[name]);
      if (typeof t === 'string') return t;
      if (t === null) bad = true;
    }
  }
  return bad ? null : undefined;
}

function finite(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function behaviourTypes(behaviour: unknown): number {
  if (!isObject(behaviour)) return 0;
  let n = 0;
  for (const device of Object.values(behaviour)) if (isObject(device)) n += Object.keys(device).length;
  return n;
}

/** Normalises one non-blank line of `kind`, or says why it is rejected. */
export function normalizeRecord(kind: InputKind, text: string): AcceptedRecord | RejectedRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(quoteBigIds(text));
  } catch {
    return { ok: false, reason: 'bad_json', missingProfile: false };
  }
  if (!isObject(parsed)) return { ok: false, reason: 'not_an_object', missingProfile: false };
  const body = kind === 'collections' ? 'behaviour' : 'prediction';
  const meta = isObject(parsed.metadata) ? parsed.metadata : {};
  const profileId = findId(meta, parsed, 'profile_id');
  if (profileId === undefined) return { ok: false, reason: 'missing_profile_id', missingProfile: true };
  if (profileId === null) return { ok: false, reason: 'bad_profile_id', missingProfile: false };
  if (Buffer.byteLength(hiveFolder(PROFILE_FOLDER_KEY, profileId)) > MAX_FOLDER_NAME_BYTES)
    return { ok: false, reason: 'profile_id_too_long', missingProfile: false };
  const sessionId = findId(meta, parsed, 'session_id') ?? null;
  const collectionId = findId(meta, parsed, 'collection_id') ?? null;

  // Null-prototype objects: a key named `__proto__` in the input stays a plain key.
  const metadata: Json = Object.create(null) as Json;
  Object.assign(metadata, { profile_id: profileId, session_id: sessionId, collection_id: collectionId });
  for (const [k, v] of Object.entries(meta)) if (!ID_NAMES.has(k)) metadata[k] = v;
  for (const [k, v] of Object.entries(parsed)) {
    if (k === 'metadata' || k === body || ID_NAMES.has(k) || k in metadata) continue;
    metadata[k] = v;
  }
  const normal: Json = Object.create(null) as Json;
  normal.metadata = metadata;
  if (parsed[body] !== undefined) normal[body] = parsed[body];
  const prediction = isObject(parsed.prediction) ? parsed.prediction : {};
  const model = prediction.model_name;
  return {
    ok: true,
    profileId,
    sessionId,
    collectionId,
    line: JSON.stringify(normal),
    behaviourTypes: kind === 'collections' ? behaviourTypes(parsed.behaviour) : 0,
    modelName: typeof model === 'string' && model.trim() !== '' ? model : null,
    score: kind === 'predictions' ? finite(prediction.score) : null,
    confidence: kind === 'predictions' ? finite(prediction.confidence) : null,
  };
}
