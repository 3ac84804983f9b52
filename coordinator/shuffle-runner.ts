/**
 * Runs a job's stages on shard `i` of `N` processes (pods of a Kubernetes Indexed Job, or plain
 * processes on one machine), with an object store or a shared directory as the shuffle. Every
 * shard computes the same plan and makes the same sequence of stage calls; for each call:
 *
 * 1. the shard runs the tasks it owns (`owner(task) mod N === i`) in its own pool;
 * 2. each result is written as one shuffle object, `<shuffle>/<run id>/<NNN-stage>/task-<k>.bin`
 *    (every partition the task produced, with an index of offsets: see shuffle-object.ts), then a
 *    commit marker `task-<k>.done`;
 *    a rerun of a task overwrites the same keys, so its effect lands once;
 * 3. the shard waits, polling the stage's prefix with backoff, until every task has committed
 *    (`barrierTimeoutMs`; on expiry a one-line error names the missing tasks and their shards);
 * 4. it reads the other shards' results back (of partitioned data, only the partitions it
 *    reduces), so the job continues exactly as in one process.
 *
 * Tasks must be deterministic (the same task gives the same result bytes): then any mix of
 * reruns, and any shard count, gives the same outputs. Memory: every result of a stage, as in one
 * process; typed arrays come back in shared memory so posting them to workers copies nothing.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { ShardflowError } from '../errors.js';
import { joinUrl, storageFor, writeObject, type Storage } from '../io/storage.js';
import { decodeShuffleObject, encodeShuffleObject } from './shuffle-object.js';

/** This process's place among the shards. */
export interface ShardSpec {
  index: number;
  count: number;
}

/** Options of {@link createShuffleRunner}. */
export interface ShuffleRunnerOptions<T> {
  shard: ShardSpec;
  /** The run's shuffle root: `<--shuffle>/<run id>`. */
  root: string;
  /** Which shard runs a task: `owner(task) mod count`. Tasks of one split keep one owner. */
  owner: (task: T) => number;
  /** Runs owned tasks in this process's pool; results in task order. */
  run: <R>(stage: string, tasks: T[]) => Promise<R[]>;
  /** How long to wait for the other shards at each stage; default 10 minutes. */
  barrierTimeoutMs?: number;
  /** First and longest poll interval; default 50 ms and 2 s. */
  pollMs?: [number, number];
  /** Told the bytes of each shuffle object written or read. */
  onBytes?: (direction: 'written' | 'read', bytes: number) => void;
  /** Told when a barrier starts waiting, with the tasks still missing. */
  onWait?: (stage: string, missing: number) => void;
}

export const SHUFFLE_DEFAULTS = Object.freeze({
  barrierTimeoutMs: 10 * 60 * 1000,
  pollMs: [50, 2000] as [number, number],
});

/** The pod's stage runner: the same signature as running every task in one process. */
export interface StageRunner<T> {
  <R>(stage: string, tasks: T[]): Promise<R[]>;
  /** Runs `fn` on every shard, commits a marker, and waits for every shard's marker. */
  everyShard(step: string, fn: () => Promise<void>): Promise<void>;
  /** Runs `fn` on shard 0 and commits a marker; the other shards wait for it. */
  leadShard(step: string, fn: () => Promise<void>): Promise<void>;
}

export function createShuffleRunner<T>(options: ShuffleRunnerOptions<T>): StageRunner<T> {
  const { shard, root, owner } = options;
  const timeoutMs = options.barrierTimeoutMs ?? SHUFFLE_DEFAULTS.barrierTimeoutMs;
  const [firstPoll, maxPoll] = options.pollMs ?? SHUFFLE_DEFAULTS.pollMs;
  let calls = 0;

  const stage = async <R>(stage: string, tasks: T[]): Promise<R[]> => {
    const dir = joinUrl(root, `${String(++calls).padStart(3, '0')}-${stage}`);
    const store = await storageFor(dir);
    const mine = tasks.map((_, k) => k).filter((k) => owner(tasks[k]) % shard.count === shard.index);
    const results = new Array<R | undefined>(tasks.length);
    const ran = await options.run<R>(
      stage,
      mine.map((k) => tasks[k]),
    );
    for (let j = 0; j < mine.length; j++) {
      const k = mine[j];
      results[k] = ran[j];
      const chunks = encodeShuffleObject(ran[j]);
      await writeObject(joinUrl(dir, `task-${k}.bin`), chunks);
      await writeObject(joinUrl(dir, `task-${k}.done`), []);
      options.onBytes?.(
        'written',
        chunks.reduce((n, c) => n + c.length, 0),
      );
    }
    await barrier(store, dir, stage, tasks.length, (k) => owner(tasks[k]) % shard.count);
    for (let k = 0; k < tasks.length; k++) {
      if (results[k] !== undefined) continue;
      const url = joinUrl(dir, `task-${k}.bin`);
      // Partitioned data only for the partitions this shard reduces (their tasks are owned by
      // partition mod N, see the job's owner function).
      const { value, bytes } = await decodeShuffleObject(
        (start, length) => store.readRange(url, start, length),
        (p) => p % shard.count === shard.index,
      );
      options.onBytes?.('read', bytes);
      results[k] = value as R;
    }
    return results as R[];
  };

  /** A step every shard (or only the lead) runs in the main thread, with a barrier after it. */
  const step = async (name: string, fn: () => Promise<void>, everyone: boolean): Promise<void> => {
    const dir = joinUrl(root, `${String(++calls).padStart(3, '0')}-${name}`);
    const store = await storageFor(dir);
    if (everyone || shard.index === 0) {
      await fn();
      await writeObject(joinUrl(dir, `task-${shard.index}.done`), []);
    }
    if (everyone) await barrier(store, dir, name, shard.count, (k) => k);
    else await barrier(store, dir, name, 1, () => 0);
  };

  return Object.assign(stage, {
    everyShard: (name: string, fn: () => Promise<void>) => step(name, fn, true),
    leadShard: (name: string, fn: () => Promise<void>) => step(name, fn, false),
  });

  async function barrier(
    store: Storage,
    dir: string,
    stage: string,
    total: number,
    shardOf: (k: number) => number,
  ): Promise<void> {
    const started = performance.now();
    let wait = firstPoll;
    let told = false;
    for (;;) {
      const done = new Set<number>();
      for (const o of await store.list(dir)) {
        const m = /task-(\d+)\.done$/.exec(o.url);
        if (m) done.add(Number(m[1]));
      }
      const missing: number[] = [];
      for (let k = 0; k < total; k++) if (!done.has(k)) missing.push(k);
      if (missing.length === 0) return;
      if (!told) options.onWait?.(stage, missing.length);
      told = true;
      if (performance.now() - started >= timeoutMs) {
        const shown = missing
          .slice(0, 20)
          .map((k) => `${k} (shard ${shardOf(k)}/${shard.count})`)
          .join(', ');
        throw new ShardflowError(
          'E_BARRIER_TIMEOUT',
          `shard ${shard.index}/${shard.count}: gave up after ${Math.round(timeoutMs / 1000)} s waiting at stage "${stage}" for ${missing.length} of ${total} tasks to commit under ${dir}: ${shown}${missing.length > 20 ? ', …' : ''}`,
        );
      }
      await sleep(Math.min(wait, Math.max(1, timeoutMs - (performance.now() - started))));
      wait = Math.min(maxPoll, wait * 2);
    }
  }
}
