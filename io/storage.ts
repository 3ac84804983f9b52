/**
 * One small interface over where bytes live: a local filesystem or an S3 bucket. Sources and sinks
 * use only this; nothing above `io/` knows which one it has. Locations are URLs as the user writes
 * them: a local path (`data/in.csv`, `/tmp/out`) or `s3://bucket/key`.
 *
 * Writes are two-phase: bytes go to an {@link ObjectWriter}, and the object appears under its name
 * only at `commit()` (a rename on disk, the completion of an upload on S3); `abort()` leaves
 * nothing behind.
 */

import { BroadcastChannel } from 'node:worker_threads';
import { ShardflowError, UsageError } from '../errors.js';

/** An object (a file), its size in bytes and its version. */
export interface ObjectInfo {
  url: string;
  size: number;
  /**
   * Changes when the object's contents do: the ETag on S3, the modification time in ms on a local
   * disk. Part of the run id, so a rerun over replaced input never reuses an old shuffle.
   */
  version: string;
}

/** Receives an object's bytes; nothing is visible under its name before `commit()`. */
export interface ObjectWriter {
  /** Appends bytes; resolves when the writer can take more (memory stays bounded). */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the object visible under its name, complete. */
  commit(): Promise<void>;
  /** Discards everything written; safe to call after a failure, and more than once. */
  abort(): Promise<void>;
}

export interface Storage {
  /** Every object whose URL starts with `prefix` + '/', recursively, sorted by URL. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** The object's size and version, or null when there is no object of that name. */
  stat(url: string): Promise<ObjectInfo | null>;
  /**
   * Bytes `[start, end)` of an object as a stream of chunks (`end` beyond the object's size reads
   * to its end). A chunk stays valid after the next one is requested.
   */
  read(url: string, start?: number, end?: number): AsyncIterable<Uint8Array>;
  /** Bytes `[start, start + length)` (fewer at the object's end) in one buffer: for small reads. */
  readRange(url: string, start: number, length: number): Promise<Uint8Array>;
  /** A writer for a new object `url` (replacing any object of that name at commit). */
  create(url: string): ObjectWriter;
  /** Deletes the object `url` if it exists. */
  delete(url: string): Promise<void>;
  /** Deletes every object under `prefix` + '/' (a directory and what it holds). */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * Removes what writers that never finished left under `prefix` (the temporary files of a
   * process killed mid-write); resolves to how many. Call only when no writer of the prefix can
   * still be running (after a run's last barrier). `recursive` false: only `prefix`'s own files.
   */
  deleteUnfinished(prefix: string, recursive?: boolean): Promise<number>;
}

/** How to reach S3; plain data, so the coordinator can hand it to every worker. */
export interface S3Options {
  /** An S3-compatible endpoint (MinIO, Ceph, a loopback server); path-style addressing is used. */
  endpoint?: string;
  /** AWS region; default from the SDK's chain, `us-east-1` with a custom endpoint. */
  region?: string;
  /**
   * Request checksums: 'when_required' (only where S3 demands one) or 'when_supported' (the SDK's
   * default with AWS). Default: 'when_required' with a custom endpoint, many of which store a
   * streamed upload with its checksum trailer appended; else 'when_supported'.
   */
  checksums?: 'when_required' | 'when_supported';
  /** Multipart upload part size in bytes; default 8 MiB (S3's minimum is 5 MiB). */
  partSize?: number;
  /** Parts uploaded at once per object; default 4. Memory per upload: partSize × queueSize. */
  queueSize?: number;
  /** Attempts per request or read (transient errors and stalls); default 5. */
  maxAttempts?: number;
  /** A read whose body sends nothing for this long is cut and resumed; default 30 s. */
  stallMs?: number;
}

/** Storage configuration of a process or worker thread. */
export interface StorageOptions {
  s3?: S3Options;
}

let configured: StorageOptions = {};
const s3Cache = new Map<string, Storage>();

/** Sets this thread's storage options (the CLI in the main thread; each task in a worker). */
export function configureStorage(options: StorageOptions): void {
  if (JSON.stringify(options) === JSON.stringify(configured)) return;
  configured = structuredClone(options);
  s3Cache.clear();
}

/** The options set by {@link configureStorage}, to hand to workers. */
export function storageOptions(): StorageOptions {
  return configured;
}

/** True for an `s3://` URL. */
export function isS3Url(url: string): boolean {
  return url.startsWith('s3://');
}

/** Bucket and key of an `s3://bucket/key` URL; a URL without a bucket is a usage error. */
export function parseS3Url(url: string): { bucket: string; key: string } {
  const rest = url.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const key = slash < 0 ? '' : rest.slice(slash + 1);
  if (bucket === '') throw new UsageError(`${url}: an s3:// URL needs a bucket (s3://bucket/key)`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new UsageError(`${url}: "${bucket}" is not a valid bucket name`);
  }
  return { bucket, key };
}

/** `base` joined with path segments, for local paths and s3:// URLs alike. */
export function joinUrl(base: string, ...names: string[]): string {
  let out = base;
  for (const name of names) out = out.endsWith('/') ? out + name : `${out}/${name}`;
  return out;
}

/** The storage that holds `url`. */
export async function storageFor(url: string): Promise<Storage> {
  if (!isS3Url(url)) {
    const { localStorage } = await import('./local-storage.js');
    return (trackedLocal ??= trackingWriters(localStorage));
  }
  parseS3Url(url); // a URL without a bucket fails here, before any client exists
  const key = 's3';
  let s = s3Cache.get(key);
  if (s === undefined) {
    // Loaded on first use: a run that never touches S3 never loads the SDK.
    const { S3Storage } = await import('./s3-storage.js');
    s = trackingWriters(new S3Storage(configured.s3 ?? {}));
    s3Cache.set(key, s);
  }
  return s;
}

/** Writes `chunks` as the object `url` (visible once complete); aborts the write on failure. */
export async function writeObject(url: string, chunks: readonly Uint8Array[]): Promise<void> {
  const writer = (await storageFor(url)).create(url);
  try {
    for (const c of chunks) if (c.length > 0) await writer.write(c);
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

// Writers in flight, so that a run stopped by a signal aborts them: no multipart upload left open,
// no hidden temporary file left beside an output (issue #10). Each thread keeps its own; the
// coordinator asks the worker threads for theirs over a BroadcastChannel.

let trackedLocal: Storage | undefined;
const openWriters = new Set<ObjectWriter>();
/** Commits under way: a stopping thread lets them finish (a rename, a last part) before it ends. */
const commits = new Set<Promise<void>>();
let stopping = false;

/** `storage` with every writer it creates registered until its commit or abort. */
function trackingWriters(storage: Storage): Storage {
  // A proxy rather than a copy of each method: S3Storage keeps #private state on its instance.
  return new Proxy(storage, {
    get(target, property) {
      if (property === 'create') return (url: string) => tracked(target.create(url), url);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function tracked(writer: ObjectWriter, url: string): ObjectWriter {
  if (stopping) {
    void writer.abort();
    throw new ShardflowError('E_STOPPING', `${url}: not written: the run is stopping`);
  }
  openWriters.add(writer);
  return {
    write: (chunk) => writer.write(chunk),
    commit: () => {
      openWriters.delete(writer);
      const commit = writer.commit();
      const settled: Promise<void> = commit.catch(() => {}).finally(() => commits.delete(settled));
      commits.add(settled);
      return commit;
    },
    abort: () => {
      openWriters.delete(writer);
      return writer.abort();
    },
  };
}

/**
 * Aborts every writer of this thread that is neither committed nor aborted, waits for the commits
 * under way (an object that is being completed ends whole, not as a temporary file or an open
 * upload), and refuses new writers from then on (the thread's run is stopping); resolves with how
 * many writers were aborted.
 */
export async function abortOpenWriters(): Promise<number> {
  stopping = true;
  const writers = [...openWriters];
  openWriters.clear();
  await Promise.all([...writers.map((w) => w.abort().catch(() => {})), ...commits]);
  return writers.length;
}

const ABORT_CHANNEL = 'shardflow-abort-writers';
type AbortMessage = { kind: 'abort' } | { kind: 'aborted'; writers: number };

/** In a worker thread: aborts this thread's writers (see abortOpenWriters) when asked to. */
export function abortWritersOnRequest(): void {
  const channel = new BroadcastChannel(ABORT_CHANNEL);
  channel.unref();
  channel.onmessage = (event) => {
    if ((event as { data: AbortMessage }).data.kind !== 'abort') return;
    void abortOpenWriters().then((writers) => channel.postMessage({ kind: 'aborted', writers }));
  };
}

/**
 * Asks every worker thread to abort its writers; resolves with how many they aborted once
 * `threads` threads have answered or `timeoutMs` has passed (a thread busy in a long synchronous
 * step answers late or not at all).
 */
export function abortWorkerWriters(threads: number, timeoutMs: number): Promise<number> {
  const channel = new BroadcastChannel(ABORT_CHANNEL);
  return new Promise<number>((resolve) => {
    let answers = 0;
    let writers = 0;
    const done = () => {
      clearTimeout(timer);
      channel.close();
      resolve(writers);
    };
    const timer = setTimeout(done, timeoutMs);
    channel.onmessage = (event) => {
      const message = (event as { data: AbortMessage }).data;
      if (message.kind !== 'aborted') return;
      writers += message.writers;
      if (++answers >= threads) done();
    };
    if (threads <= 0) done();
    else channel.postMessage({ kind: 'abort' } satisfies AbortMessage);
  });
}
