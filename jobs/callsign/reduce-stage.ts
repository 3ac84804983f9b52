/**
 * The callsign reduce stage, one partition per task. It reads partition i's section of every
 * split's spill (in input order), then:
 *
 * 1. writes each profile's `labels/profile-id=<id>/collections.jsonl` and
 *    `predictions/profile-id=<id>/predictions.jsonl` through the storage interface, in profile
 *    order, at most FILES_IN_FLIGHT at once: the profile's segments are read from the spills in
 *    input order into one buffer of its size (at most 4 MiB a write), written at once. Reads are
 *    blocking and go through a 64 KiB window per spill: a profile has a small segment in every
 *    split, and a thread-pool round trip per segment made this stage 3× slower with 12 splits;
 * 2. merges the session partials of the partition's profiles and finalises the aggregated rows;
 * 3. runs the report's checks for the session ids and collection ids hashed to i.
 *
 * Peak memory: the partition's sections (its profiles' segment index and session partials, the
 * checks' keys), one 64 KiB window per split, and up to FILES_IN_FLIGHT buffers of at most 4 MiB;
 * never the partition's lines. Spill files are opened once per task (one handle per split).
 */

import { closeSync, openSync, readSync } from 'node:fs';
import { configureStorage, hiveFolder, joinUrl, storageFor, type Storage } from 'shardflow/kernel';
import { PROFILE_FOLDER_KEY, type InputKind } from './normalize-record.js';
import { compare, compareNullable } from './map-stage.js';
import { finalizePartial, mergePartial, type SessionPartial } from './session-partial.js';
import {
  emptyAggregatedRows,
  type CallsignReduceResult,
  type CallsignReduceTask,
  type Sampled,
} from './tasks.js';

const COPY_BYTES = 4 * 1024 * 1024;
/** Read window per spill in a reduce task. */
const WINDOW_BYTES = 64 * 1024;
/** Profile files being written at once by one reduce task. */
const FILES_IN_FLIGHT = 8;
/** Ids listed in each check of the report. */
export const SAMPLE_SIZE = 10;

interface Section {
  p: [string, number, number][];
  a: [string, string | null, SessionPartial][];
  s: [string, string[]][];
  c: [string, number][];
}

/** Where each kind's files go under --out, and their file names. */
export const PROFILE_OUTPUTS: Record<InputKind, { dir: string; file: string }> = {
  collections: { dir: 'labels', file: 'collections.jsonl' },
  predictions: { dir: 'predictions', file: 'predictions.jsonl' },
};

/** The URL of a profile's file of `kind` under `out`. */
export function profileFileUrl(out: string, kind: InputKind, profileId: string): string {
  const { dir, file } = PROFILE_OUTPUTS[kind];
  return joinUrl(out, dir, hiveFolder(PROFILE_FOLDER_KEY, profileId), file);
}

/** Reads `length` bytes at `offset` of the spill `fd` into `buf` at `at`. */
function readFully(fd: number, buf: Buffer, at: number, length: number, offset: number): void {
  for (let n = 0; n < length;) {
    const got = readSync(fd, buf, at + n, length - n, offset + n);
    if (got === 0) throw new Error(`spill ended early at byte ${offset + n}`);
    n += got;
  }
}

/**
 * One spill read through a 64 KiB window. A partition's segments in a spill are consecutive and
 * asked for in order, so most segment reads are copies from the window: one read per 64 KiB
 * instead of one per segment (a profile has a segment in nearly every split: at 1 GB that is 128
 * reads a file, 5 million in all).
 */
class SpillWindow {
  readonly fd: number;
  readonly #buf = Buffer.allocUnsafe(WINDOW_BYTES);
  #start = 0;
  #end = 0;

  constructor(fd: number) {
    this.fd = fd;
  }

  /** Copies `length` bytes at `offset` of the spill into `target` at `at`. */
  read(target: Buffer, at: number, length: number, offset: number): void {
    if (offset < this.#start || offset + length > this.#end) {
      if (length >= WINDOW_BYTES) return readFully(this.fd, target, at, length, offset);
      let n = 0;
      while (n < WINDOW_BYTES) {
        const got = readSync(this.fd, this.#buf, n, WINDOW_BYTES - n, offset + n);
        if (got === 0) break;
        n += got;
      }
      if (n < length) throw new Error(`spill ended early at byte ${offset + n}`);
      this.#start = offset;
      this.#end = offset + n;
    }
    this.#buf.copy(target, at, offset - this.#start, offset - this.#start + length);
  }
}

function readSection(fd: number, [start, end]: [number, number]): Section {
  const buf = Buffer.allocUnsafe(end - start);
  readFully(fd, buf, 0, buf.length, start);
  return JSON.parse(buf.toString('utf8')) as Section;
}

/** Copies a profile's segments (in input order) into one buffer and writes it as one object. */
async function writeProfile(
  storage: Storage,
  url: string,
  segments: readonly [SpillWindow, number, number][],
): Promise<void> {
  let size = 0;
  for (const [, , length] of segments) size += length;
  const writer = storage.create(url);
  try {
    // One buffer of the file's size, at most COPY_BYTES; a larger profile goes in several writes.
    let buf = Buffer.allocUnsafe(Math.min(size, COPY_BYTES));
    let used = 0;
    for (const [spill, offset, length] of segments) {
      for (let done = 0; done < length;) {
        const take = Math.min(buf.length - used, length - done);
        spill.read(buf, used, take, offset + done);
        used += take;
        done += take;
        size -= take;
        if (used === buf.length && size > 0) {
          await writer.write(buf); // a fresh buffer next: the writer may keep this one
          buf = Buffer.allocUnsafe(Math.min(size, COPY_BYTES));
          used = 0;
        }
      }
    }
    if (used > 0) await writer.write(buf.subarray(0, used));
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/**
 * Writes the profiles' files in profile order, at most FILES_IN_FLIGHT at once: each file is a few
 * round trips to the file system or S3 (create the folder, open, write, close, rename; or a PUT),
 * and waiting for them one by one left the worker idle most of the time (~1 ms a file).
 */
async function writeProfiles(
  storage: Storage,
  out: string,
  kind: InputKind,
  segments: Map<string, [SpillWindow, number, number][]>,
): Promise<number> {
  const profiles = [...segments.keys()].sort(compare);
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for (const profile of profiles) {
    if (failure) break;
    const write = writeProfile(storage, profileFileUrl(out, kind, profile), segments.get(profile)!).then(
      () => inFlight.delete(write),
      (error: unknown) => {
        inFlight.delete(write);
        failure ??= { error };
      },
    ) as Promise<void>;
    inFlight.add(write);
    if (inFlight.size >= FILES_IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
  return profiles.length;
}

function sampled(ids: string[]): Sampled {
  ids.sort(compare);
  return { count: ids.length, sample: ids.slice(0, SAMPLE_SIZE) };
}

export async function runReduceStage(task: CallsignReduceTask): Promise<CallsignReduceResult> {
  configureStorage(task.storage);
  const storage = await storageFor(task.out);
  const fds: number[] = [];
  try {
    const segments = {
      collections: new Map<string, [SpillWindow, number, number][]>(),
      predictions: new Map<string, [SpillWindow, number, number][]>(),
    };
    const sessions = new Map<string, Map<string | null, { partial: SessionPartial; seen: Set<string> }>>();
    const checks = new Map<string, { profiles: Set<string>; c: boolean; p: boolean }>();
    const collectionIds = new Map<string, number>();
    for (const split of task.splits) {
      if (split.section[1] <= split.section[0]) continue;
      const fd = openSync(split.spillPath, 'r');
      fds.push(fd);
      const window = new SpillWindow(fd);
      const section = readSection(fd, split.section);
      const byProfile = segments[split.kind];
      for (const [profile, offset, length] of section.p) {
        let list = byProfile.get(profile);
        if (list === undefined) byProfile.set(profile, (list = []));
        list.push([window, offset, length]);
      }
      for (const [profile, session, partial] of section.a) {
        let bySession = sessions.get(profile);
        if (bySession === undefined) sessions.set(profile, (bySession = new Map()));
        const state = bySession.get(session);
        if (state === undefined) bySession.set(session, { partial, seen: new Set(partial.cids) });
        else mergePartial(state.partial, partial, state.seen);
      }
      for (const [session, profiles] of section.s) {
        let check = checks.get(session);
        if (check === undefined) checks.set(session, (check = { profiles: new Set(), c: false, p: false }));
        for (const p of profiles) check.profiles.add(p);
        if (split.kind === 'collections') check.c = true;
        else check.p = true;
      }
      for (const [id, n] of section.c) collectionIds.set(id, (collectionIds.get(id) ?? 0) + n);
    }

    const labelFiles = await writeProfiles(storage, task.out, 'collections', segments.collections);
    const predictionFiles = await writeProfiles(storage, task.out, 'predictions', segments.predictions);

    const rows = emptyAggregatedRows();
    for (const profile of [...sessions.keys()].sort(compare)) {
      const bySession = sessions.get(profile) as Map<string | null, { partial: SessionPartial }>;
      for (const session of [...bySession.keys()].sort(compareNullable)) {
        const row = finalizePartial(profile, session, bySession.get(session)!.partial);
        rows.profile.push(row.profile_id);
        rows.session.push(row.session_id);
        rows.collections.push(row.collections);
        rows.weighted.push(row.weighted_mean_score);
        rows.swipe.push(row.mean_swipe_score);
        rows.failed.push(row.failed_keystroke_predictions);
      }
    }
    const many: string[] = [];
    const noPredictions: string[] = [];
    const noCollections: string[] = [];
    for (const [session, check] of checks) {
      if (check.profiles.size > 1) many.push(session);
      if (check.c && !check.p) noPredictions.push(session);
      if (check.p && !check.c) noCollections.push(session);
    }
    const duplicates = [...collectionIds].filter(([, n]) => n > 1).map(([id]) => id);
    return {
      partition: task.partition,
      profiles: new Set([...segments.collections.keys(), ...segments.predictions.keys()]).size,
      labelFiles,
      predictionFiles,
      rows,
      checks: {
        sessionsUnderManyProfiles: sampled(many),
        duplicateCollectionIds: sampled(duplicates),
        sessionsMissingInPredictions: sampled(noPredictions),
        sessionsMissingInCollections: sampled(noCollections),
      },
    };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}
