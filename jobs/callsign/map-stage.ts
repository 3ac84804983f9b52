/**
 * The callsign map stage, one split per task: read the split's lines, normalise and validate them,
 * group the accepted lines by partition (murmur3 of the profile id mod P) and by profile, fold the
 * session partials, collect the report's per-session and per-collection-id facts, and spill it all
 * to one local scratch file:
 *
 *   [lines of partition 0, profile by profile (sorted), in input order] … [partition P-1]
 *   [section 0] … [section P-1]   JSON: {"p":[[profile, offset, length]], "a":[[profile, session,
 *                                 partial]], "s":[[session, [profiles]]], "c":[[collection id, n]]}
 *   [rejects]                     JSON: [[line index in split, reason, raw], …]
 *
 * "p" and "a" hold the profiles of partition i; "s" and "c" the session and collection ids hashed to
 * i, for the checks of the report. Peak memory: the split's normalised lines and its distinct keys
 * (about 2–3× the split size, 8 MiB by default).
 */

import { open } from 'node:fs/promises';
import {
  configureStorage,
  escapeNul,
  hiveFolder,
  isCleanText,
  MAX_FOLDER_NAME_BYTES,
  murmur3String,
  readJsonlSplit,
  storableText,
} from 'shardflow/kernel';
import {
  MAX_LINE_BYTES,
  MAX_RAW_CHARS,
  PROFILE_FOLDER_KEY,
  REJECT_REASONS,
  normalizeRecord,
  type RejectReason,
} from './normalize-record.js';
import { scanNormalLine, type LineFacts } from './normal-line-scan.js';
import { initPartial, updatePartial, type SessionPartial } from './session-partial.js';
import type { CallsignMapResult, CallsignMapTask, SplitCounts } from './tasks.js';

const WRITE_BATCH = 1 << 20;
const REASON_CODE = new Map<string, number>(REJECT_REASONS.map((r, i) => [r, i]));
const TOO_LONG_ID = REASON_CODE.get('profile_id_too_long') as number;

interface SessionState {
  partial: SessionPartial;
  seen: Set<string>;
}

/** A profile in this split: its lines as [buffer index, start, end] triples (input order), its sessions. */
interface ProfileState {
  refs: number[];
  sessions: Map<string | null, SessionState>;
}

/** Appends bytes to a file through a 1 MiB staging buffer; `offset` is the bytes appended so far. */
class SpillWriter {
  readonly #handle: Awaited<ReturnType<typeof open>>;
  readonly #batch = Buffer.allocUnsafe(WRITE_BATCH);
  #used = 0;
  offset = 0;

  private constructor(handle: Awaited<ReturnType<typeof open>>) {
    this.#handle = handle;
  }

  static async open(path: string): Promise<SpillWriter> {
    return new SpillWriter(await open(path, 'w'));
  }

  /** Bytes [start, end) of `buf`, then a line feed when `lf`. */
  async append(buf: Uint8Array, start: number, end: number, lf = false): Promise<void> {
    while (start < end) {
      const take = Math.min(end - start, WRITE_BATCH - this.#used);
      this.#batch.set(buf.subarray(start, start + take), this.#used);
      this.#used += take;
      this.offset += take;
      start += take;
      if (this.#used === WRITE_BATCH) await this.flush();
    }
    if (lf) {
      if (this.#used === WRITE_BATCH) await this.flush();
      this.#batch[this.#used++] = 10;
      this.offset++;
    }
  }

  async appendText(text: string): Promise<void> {
    const buf = Buffer.from(text, 'utf8');
    await this.append(buf, 0, buf.length);
  }

  async flush(): Promise<void> {
    if (this.#used === 0) return;
    await this.#handle.write(this.#batch, 0, this.#used);
    this.#used = 0;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.#handle.close();
    }
  }
}

export async function runMapStage(
  task: CallsignMapTask,
  onProgress?: (bytes: number, rows: number) => void,
): Promise<CallsignMapResult> {
  configureStorage(task.storage);
  const { kind } = task.split;
  const P = task.partitions;
  const counts: SplitCounts = {
    lines: 0,
    blank: 0,
    accepted: 0,
    rejected: REJECT_REASONS.map(() => 0),
    missingProfile: 0,
    missingSession: 0,
    missingCollection: 0,
    noBehaviour: 0,
    noModel: 0,
  };
  // Accepted lines stay where they are: views of the reader's buffers (fast path) or the bytes of
  // their normal form (slow path), referenced by index.
  const buffers: Buffer[] = [];
  let lastBuffer: Buffer | null = null;
  const profileStates = new Map<string, ProfileState>();
  const sessionProfiles = new Map<string, Set<string>>();
  const collectionIds = new Map<string, number>();
  const rejects: [number, string, string][] = [];
  let index = 0;
  let rows = 0;
  const reject = (line: number, reason: RejectReason, raw: string) => {
    counts.rejected[REASON_CODE.get(reason) as number]++;
    rejects.push([line, reason, escapeNul(raw).slice(0, MAX_RAW_CHARS)]); // storable: no NUL
  };
  // The previous line's profile and session: a session's lines usually come together.
  let lastProfile: ProfileState | null = null;
  let lastProfileId = '';
  let lastSessionId: string | null = null;
  let lastSession: SessionState | null = null;
  const accept = (profile: ProfileState, r: LineFacts, buffer: number, start: number, end: number) => {
    counts.accepted++;
    if (r.sessionId === null) counts.missingSession++;
    if (r.collectionId === null) counts.missingCollection++;
    if (kind === 'collections' && r.behaviourTypes === 0) counts.noBehaviour++;
    if (kind === 'predictions' && r.modelName === null) counts.noModel++;
    profile.refs.push(buffer, start, end);
    let state: SessionState | undefined;
    if (profile === lastProfile && r.sessionId === lastSessionId) state = lastSession as SessionState;
    else {
      state = profile.sessions.get(r.sessionId);
      if (state === undefined)
        profile.sessions.set(r.sessionId, (state = { partial: initPartial(), seen: new Set() }));
      if (r.sessionId !== null) {
        let profiles = sessionProfiles.get(r.sessionId);
        if (profiles === undefined) sessionProfiles.set(r.sessionId, (profiles = new Set()));
        profiles.add(r.profileId);
      }
      lastProfile = profile;
      lastProfileId = r.profileId;
      lastSessionId = r.sessionId;
      lastSession = state;
    }
    updatePartial(state.partial, kind, r, state.seen);
    if (kind === 'collections' && r.collectionId !== null)
      collectionIds.set(r.collectionId, (collectionIds.get(r.collectionId) ?? 0) + 1);
  };
  const newProfile = (id: string): ProfileState => {
    const profile: ProfileState = { refs: [], sessions: new Map() };
    profileStates.set(id, profile);
    return profile;
  };
  /** The slow path: parse, normalise, keep the normal form's bytes. */
  const slow = (line: number, text: string) => {
    const r = normalizeRecord(kind, text);
    if (!r.ok) {
      if (r.missingProfile) counts.missingProfile++;
      reject(line, r.reason, text);
      return;
    }
    const profile = profileStates.get(r.profileId) ?? newProfile(r.profileId);
    const bytes = Buffer.from(r.line, 'utf8');
    buffers.push(bytes);
    lastBuffer = null;
    accept(profile, r, buffers.length - 1, 0, bytes.length);
  };
  const { lines } = await readJsonlSplit({
    url: task.split.url,
    start: task.split.start,
    end: task.split.end,
    maxLineBytes: MAX_LINE_BYTES,
    keepBytes: MAX_RAW_CHARS,
    onBytes: (bytes) => onProgress?.(bytes, 0),
    onLine: (text, tooLong) => {
      // Only too-long lines come here (onLineBytes takes the others).
      const line = index++;
      rows++;
      reject(line, tooLong ? 'line_too_long' : 'bad_json', text);
    },
    onLineBytes: (buf, start, end) => {
      const line = index++;
      const r = scanNormalLine(buf, start, end, kind);
      if (r === null) {
        // The fast path accepts printable ASCII only; the rest is checked here, before decoding.
        if (!isCleanText(buf, start, end)) {
          rows++;
          reject(line, 'bad_encoding', storableText(buf, start, end));
          return;
        }
        const text = buf.toString('utf8', start, end);
        if (text.trim() === '') {
          counts.blank++;
          return;
        }
        rows++;
        slow(line, text);
        return;
      }
      rows++;
      let profile =
        lastProfile !== null && r.profileId === lastProfileId ? lastProfile : profileStates.get(r.profileId);
      if (profile === undefined) {
        // First line of this profile in the split: the folder-name check, once (the slow path's rule).
        if (Buffer.byteLength(hiveFolder(PROFILE_FOLDER_KEY, r.profileId)) > MAX_FOLDER_NAME_BYTES) {
          counts.rejected[TOO_LONG_ID]++;
          rejects.push([
            line,
            'profile_id_too_long',
            buf.toString('utf8', start, end).slice(0, MAX_RAW_CHARS),
          ]);
          return;
        }
        profile = newProfile(r.profileId);
      }
      if (buf !== lastBuffer) {
        buffers.push(buf);
        lastBuffer = buf;
      }
      accept(profile, r, buffers.length - 1, start, end);
    },
  });
  counts.lines = lines;
  onProgress?.(0, rows);

  // Group the keys by partition, each group sorted, so the spill is in (partition, key) order.
  // (The default sort compares strings by code units, as compare() does.)
  const byPartition = (keys: Iterable<string>): string[][] => {
    const groups: string[][] = Array.from({ length: P }, () => []);
    for (const k of keys) groups[murmur3String(k) % P].push(k);
    for (const g of groups) g.sort();
    return groups;
  };
  const profilesBy = byPartition(profileStates.keys());
  const sessionsBy = byPartition(sessionProfiles.keys());
  const collectionsBy = byPartition(collectionIds.keys());

  const spill = await SpillWriter.open(task.spillPath);
  try {
    const located: [string, number, number][][] = profilesBy.map(() => []);
    for (let p = 0; p < P; p++) {
      for (const profile of profilesBy[p]) {
        const start = spill.offset;
        const { refs } = profileStates.get(profile) as ProfileState;
        for (let k = 0; k < refs.length; k += 3)
          await spill.append(buffers[refs[k]], refs[k + 1], refs[k + 2], true);
        located[p].push([profile, start, spill.offset - start]);
      }
    }
    const sections: number[] = [];
    for (let p = 0; p < P; p++) {
      sections.push(spill.offset);
      const aggregates: [string, string | null, SessionPartial][] = [];
      for (const profile of profilesBy[p]) {
        const bySession = (profileStates.get(profile) as ProfileState).sessions;
        const keys = [...bySession.keys()].sort(compareNullable);
        for (const s of keys) aggregates.push([profile, s, (bySession.get(s) as SessionState).partial]);
      }
      await spill.appendText(
        JSON.stringify({
          p: located[p],
          a: aggregates,
          s: sessionsBy[p].map((s) => [s, [...(sessionProfiles.get(s) as Set<string>)].sort(compare)]),
          c: collectionsBy[p].map((c) => [c, collectionIds.get(c)]),
        }),
      );
    }
    sections.push(spill.offset);
    const rejectsStart = spill.offset;
    await spill.appendText(JSON.stringify(rejects));
    return { taskId: task.taskId, counts, sections, rejects: [rejectsStart, spill.offset] };
  } finally {
    await spill.close();
  }
}

/** Code-unit order: the same on every machine and in every locale. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** {@link compare}, with null first. */
export function compareNullable(a: string | null, b: string | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  return compare(a, b);
}
