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
import { configureStorage } from '../../io/storage.js';
import { readJsonlSplit } from '../../io/jsonl-split-reader.js';
import { murmur3String } from '../../partitioners/murmur3.js';
import { MAX_LINE_BYTES, MAX_RAW_CHARS, REJECT_REASONS, normalizeRecord } from './normalize-record.js';
import { initPartial, updatePartial, type SessionPartial } from './session-partial.js';
import type { CallsignMapResult, CallsignMapTask, SplitCounts } from './tasks.js';

const WRITE_BATCH = 1 << 20;
const REASON_CODE = new Map<string, number>(REJECT_REASONS.map((r, i) => [r, i]));

interface SessionState {
  partial: SessionPartial;
  seen: Set<string>;
}

/** Appends buffers to a file in batches of about 1 MiB; `offset` is the bytes appended so far. */
class SpillWriter {
  readonly #handle: Awaited<ReturnType<typeof open>>;
  #parts: Buffer[] = [];
  #pending = 0;
  offset = 0;

  private constructor(handle: Awaited<ReturnType<typeof open>>) {
    this.#handle = handle;
  }

  static async open(path: string): Promise<SpillWriter> {
    return new SpillWriter(await open(path, 'w'));
  }

  async append(text: string): Promise<void> {
    const buf = Buffer.from(text, 'utf8');
    this.#parts.push(buf);
    this.#pending += buf.length;
    this.offset += buf.length;
    if (this.#pending >= WRITE_BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#pending === 0) return;
    await this.#handle.writeFile(Buffer.concat(this.#parts, this.#pending));
    this.#parts = [];
    this.#pending = 0;
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
  const profileLines = new Map<string, string[]>();
  const sessions = new Map<string, Map<string | null, SessionState>>();
  const sessionProfiles = new Map<string, Set<string>>();
  const collectionIds = new Map<string, number>();
  const rejects: [number, string, string][] = [];
  let index = 0;
  let rows = 0;
  const { lines } = await readJsonlSplit({
    url: task.split.url,
    start: task.split.start,
    end: task.split.end,
    maxLineBytes: MAX_LINE_BYTES,
    keepBytes: MAX_RAW_CHARS,
    onBytes: (bytes) => onProgress?.(bytes, 0),
    onLine: (text, tooLong) => {
      const line = index++;
      if (!tooLong && text.trim() === '') {
        counts.blank++;
        return;
      }
      rows++;
      if (tooLong) {
        counts.rejected[REASON_CODE.get('line_too_long') as number]++;
        rejects.push([line, 'line_too_long', text.slice(0, MAX_RAW_CHARS)]);
        return;
      }
      const r = normalizeRecord(kind, text);
      if (!r.ok) {
        counts.rejected[REASON_CODE.get(r.reason) as number]++;
        if (r.missingProfile) counts.missingProfile++;
        rejects.push([line, r.reason, text.slice(0, MAX_RAW_CHARS)]);
        return;
      }
      counts.accepted++;
      if (r.sessionId === null) counts.missingSession++;
      if (r.collectionId === null) counts.missingCollection++;
      if (kind === 'collections' && r.behaviourTypes === 0) counts.noBehaviour++;
      if (kind === 'predictions' && r.modelName === null) counts.noModel++;
      let list = profileLines.get(r.profileId);
      if (list === undefined) profileLines.set(r.profileId, (list = []));
      list.push(r.line);
      let bySession = sessions.get(r.profileId);
      if (bySession === undefined) sessions.set(r.profileId, (bySession = new Map()));
      let state = bySession.get(r.sessionId);
      if (state === undefined)
        bySession.set(r.sessionId, (state = { partial: initPartial(), seen: new Set() }));
      updatePartial(state.partial, kind, r, state.seen);
      if (r.sessionId !== null) {
        let profiles = sessionProfiles.get(r.sessionId);
        if (profiles === undefined) sessionProfiles.set(r.sessionId, (profiles = new Set()));
        profiles.add(r.profileId);
      }
      if (kind === 'collections' && r.collectionId !== null)
        collectionIds.set(r.collectionId, (collectionIds.get(r.collectionId) ?? 0) + 1);
    },
  });
  counts.lines = lines;
  onProgress?.(0, rows);

  // Group the keys by partition, each group sorted, so the spill is in (partition, key) order.
  const byPartition = <T>(keys: Iterable<T>, keyText: (k: T) => string): T[][] => {
    const groups: T[][] = Array.from({ length: P }, () => []);
    for (const k of keys) groups[murmur3String(keyText(k)) % P].push(k);
    for (const g of groups) g.sort((a, b) => compare(keyText(a), keyText(b)));
    return groups;
  };
  const profilesBy = byPartition(profileLines.keys(), (k) => k);
  const sessionsBy = byPartition(sessionProfiles.keys(), (k) => k);
  const collectionsBy = byPartition(collectionIds.keys(), (k) => k);

  const spill = await SpillWriter.open(task.spillPath);
  try {
    const located: [string, number, number][][] = profilesBy.map(() => []);
    for (let p = 0; p < P; p++) {
      for (const profile of profilesBy[p]) {
        const start = spill.offset;
        const list = profileLines.get(profile) as string[];
        profileLines.delete(profile); // let the lines go as they are spilled
        await spill.append(`${list.join('\n')}\n`);
        located[p].push([profile, start, spill.offset - start]);
      }
    }
    const sections: number[] = [];
    for (let p = 0; p < P; p++) {
      sections.push(spill.offset);
      const aggregates: [string, string | null, SessionPartial][] = [];
      for (const profile of profilesBy[p]) {
        const bySession = sessions.get(profile) as Map<string | null, SessionState>;
        const keys = [...bySession.keys()].sort(compareNullable);
        for (const s of keys) aggregates.push([profile, s, (bySession.get(s) as SessionState).partial]);
      }
      await spill.append(
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
    await spill.append(JSON.stringify(rejects));
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
