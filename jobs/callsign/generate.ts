/**
 * `shardflow generate callsign`: a synthetic pair `collections.jsonl` / `predictions.jsonl` for the
 * callsign job (issue #5; the seed project shipped no data).
 *
 * - Profiles get sessions with skew: profile weights 1/rank^0.7 (ranks shuffled onto ids), so a
 *   few profiles hold many sessions and most hold a handful; on average `sessionsPerProfile`.
 * - A session has 1–4 collections (touch, swipe, keystroke, … behaviour with 1–4 events each), and
 *   each collection gets predictions from `swipe_model`, `keystroke_model` and `touch_model` (each
 *   with probability 0.8). Sessions are written in shuffled order, a session's lines together.
 * - Sessions missing on either side: 3% of sessions have no predictions, 2% no collections.
 * - Every inconsistency of the issue at a small rate (about 0.5% of lines each): ids as numbers,
 *   `profileId` spelling, metadata at the top level, null or missing score, blank lines, lines that
 *   are not JSON, a missing profile id; a session id reused under another profile and a duplicate
 *   collection id now and then; `keystrokes_model` spelling; and one line over 1 MiB per file.
 *
 * Memory: the session plan (8 bytes a session) and one 1 MiB write batch per file.
 */

import { performance } from 'node:perf_hooks';
import { joinUrl, storageFor } from 'shardflow/kernel';
import { LineBatcher } from './outputs.js';

export interface GenerateCallsignOptions {
  /** Profiles. Required. */
  profiles: number;
  /** Average sessions per profile. Required. */
  sessionsPerProfile: number;
  /** Output directory (or s3:// prefix) for `collections.jsonl` and `predictions.jsonl`. */
  out: string;
  /** PRNG seed; default 1. */
  seed?: number;
}

export interface GenerateCallsignSummary {
  collections: number;
  predictions: number;
  bytes: number;
  seconds: number;
}

/** Defaults of {@link GenerateCallsignOptions}. */
export const GENERATE_CALLSIGN_DEFAULTS = Object.freeze({ seed: 1, rate: 0.005 });

const BEHAVIOURS = ['touch', 'swipe', 'keystroke', 'accelerometer', 'gyroscope'];
const MODELS = ['swipe_model', 'keystroke_model', 'touch_model'];

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function generateCallsign(options: GenerateCallsignOptions): Promise<GenerateCallsignSummary> {
  const { profiles, sessionsPerProfile } = options;
  if (!Number.isInteger(profiles) || profiles < 1)
    throw new RangeError('options.profiles must be a positive integer');
  if (!Number.isInteger(sessionsPerProfile) || sessionsPerProfile < 1)
    throw new RangeError('options.sessionsPerProfile must be a positive integer');
  const started = performance.now();
  const rnd = mulberry32(options.seed ?? GENERATE_CALLSIGN_DEFAULTS.seed);
  const rate = GENERATE_CALLSIGN_DEFAULTS.rate;
  const chance = (p: number) => rnd() < p;
  const int = (n: number) => Math.floor(rnd() * n);

  // Sessions per profile, skewed; ranks shuffled onto profiles.
  const weights = Array.from({ length: profiles }, (_, i) => 1 / (i + 1) ** 0.7);
  const total = weights.reduce((a, b) => a + b, 0);
  const rank = shuffled(profiles, int);
  const counts = new Int32Array(profiles);
  let sessions = 0;
  for (let p = 0; p < profiles; p++) {
    counts[p] = Math.max(1, Math.round((weights[rank[p]] / total) * profiles * sessionsPerProfile));
    sessions += counts[p];
  }
  const owner = new Int32Array(sessions);
  for (let p = 0, k = 0; p < profiles; p++) for (let s = 0; s < counts[p]; s++) owner[k++] = p;
  const order = shuffled(sessions, int);

  const storage = await storageFor(options.out);
  const cWriter = storage.create(joinUrl(options.out, 'collections.jsonl'));
  const pWriter = storage.create(joinUrl(options.out, 'predictions.jsonl'));
  const cOut = new LineBatcher(cWriter);
  const pOut = new LineBatcher(pWriter);
  let nc = 0;
  let np = 0;
  let bytes = 0;
  let collectionCounter = 0;
  let lastCollection = '50000000';
  const emit = async (out: LineBatcher, line: string) => {
    bytes += Buffer.byteLength(line) + 1;
    await out.push(line);
  };
  const maybeNoise = async (out: LineBatcher) => {
    if (chance(rate)) await emit(out, '');
    if (chance(rate)) await emit(out, '{"metadata": {"profile_id": "truncated');
  };
  // Ids are digit strings, so the number spelling of an id normalises to the same id.
  const idValue = (n: number): string | number => (chance(rate) ? n : String(n));
  // A record's metadata in one of the accepted shapes.
  const shape = (meta: Record<string, unknown>, bodyKey: string, body: unknown): Record<string, unknown> => {
    if (chance(rate)) {
      meta.profileId = meta.profile_id;
      delete meta.profile_id;
    }
    if (chance(rate)) delete meta.profile_id;
    if (chance(rate)) return { ...meta, [bodyKey]: body };
    return { metadata: meta, [bodyKey]: body };
  };
  try {
    for (let k = 0; k < sessions; k++) {
      const session = order[k];
      const profile = owner[session];
      const profileN = 100000 + profile;
      // Now and then a session id reused under another profile.
      const sessionN = chance(rate / 5) && session > 0 ? session - 1 : session;
      const noPredictions = chance(0.03);
      const noCollections = !noPredictions && chance(0.02);
      let ts = 1_700_000_000_000 + int(30 * 86_400_000);
      const collectionCount = 1 + int(4);
      for (let c = 0; c < collectionCount; c++) {
        const collectionId = chance(rate / 5) ? lastCollection : String(50_000_000 + ++collectionCounter);
        lastCollection = collectionId;
        ts += 1000 + int(60_000);
        const collectionIdValue = chance(rate) ? Number(collectionId) : collectionId;
        if (!noCollections) {
          const mobile: Record<string, unknown> = {};
          const types = chance(rate) ? 0 : 1 + int(3);
          for (let t = 0; t < types; t++) {
            const events = Array.from({ length: 1 + int(4) }, (_, e) => ({
              timestamp: ts + e * 17,
              x: Math.round(rnd() * 1080),
              y: Math.round(rnd() * 2340),
              pressure: Math.round(rnd() * 1000) / 1000,
            }));
            mobile[BEHAVIOURS[int(BEHAVIOURS.length)]] = events;
          }
          const meta = {
            profile_id: idValue(profileN),
            session_id: idValue(5_000_000 + sessionN),
            collection_id: collectionIdValue,
            timestamp: ts,
            app_version: `4.${int(10)}.${int(20)}`,
          };
          await emit(cOut, JSON.stringify(shape(meta, 'behaviour', { mobile })));
          nc++;
          await maybeNoise(cOut);
        }
        if (noPredictions) continue;
        for (const model of MODELS) {
          if (!chance(0.8)) continue;
          const prediction: Record<string, unknown> = {
            model_name: model === 'keystroke_model' && chance(0.1) ? 'keystrokes_model' : model,
            score: Math.round(rnd() * 10_000) / 10_000,
            confidence: Math.round((0.5 + rnd() / 2) * 1000) / 1000,
            model_version: `v${1 + int(3)}`,
          };
          if (chance(model === 'keystroke_model' ? 0.05 : rate)) prediction.score = null;
          if (chance(rate)) delete prediction.score;
          if (chance(rate)) delete prediction.model_name;
          const meta = {
            profile_id: idValue(profileN),
            session_id: idValue(5_000_000 + sessionN),
            collection_id: collectionIdValue,
            predicted_at: ts + 500,
          };
          await emit(pOut, JSON.stringify(shape(meta, 'prediction', prediction)));
          np++;
          await maybeNoise(pOut);
        }
      }
    }
    // One line over 1 MiB in each file.
    const long = JSON.stringify({
      metadata: { profile_id: '100000', session_id: '5000000' },
      pad: 'x'.repeat(1 << 20),
    });
    await emit(cOut, long);
    await emit(pOut, long);
    await cOut.flush();
    await pOut.flush();
    await cWriter.commit();
    await pWriter.commit();
  } catch (err) {
    await cWriter.abort();
    await pWriter.abort();
    throw err;
  }
  return { collections: nc, predictions: np, bytes, seconds: (performance.now() - started) / 1000 };
}

/** A random permutation of 0 … n-1 (Fisher–Yates). */
function shuffled(n: number, int: (n: number) => number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}
