/**
 * The options every `shardflow run <job>` takes (see coordinator/job-command.ts), and the one place
 * they are validated: messages name the option and say what to do.
 */

import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { isS3Url, parseS3Url, type S3Options, type StorageOptions } from '../io/storage.js';

export interface RunOptions {
  workers: number;
  partitions: number;
  splitBytes: number;
  pgSchema: string;
  json: boolean;
  metricsPort?: number;
  tmpDir?: string;
  progress: boolean;
  /** How to reach S3 for s3:// inputs and outputs. */
  storage: StorageOptions;
  /** This process's shard (`--shard i/N`, or JOB_COMPLETION_INDEX with `--shards N`); default 0/1. */
  shard: { index: number; count: number };
  /** Where shards exchange task results (a directory or s3:// prefix); required with N > 1. */
  shuffle?: string;
  /** Keys the shuffle; default a digest of the job, inputs and output-shaping options. */
  runId?: string;
  /** Seconds a shard waits at a stage for the others; default 600. */
  barrierTimeoutSeconds: number;
  /** Prometheus Pushgateway that receives the final metrics. */
  pushgateway?: string;
}

/**
 * Where a run starts, before anything is read or written: `--out` must be a directory or a path
 * that can become one. A local path that is a file, or lies under one, is E_OUT_NOT_DIR (exit 2),
 * one line; an `s3://` prefix always qualifies (a key and a prefix of that name can coexist).
 */
export async function checkOutDirectory(out: string): Promise<void> {
  if (isS3Url(out)) return;
  const target = resolve(out);
  // The nearest existing path: `out` itself, or the parent its directories will be made in.
  for (let at = target; ; at = dirname(at)) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(at)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(at) !== at) continue;
      throw err;
    }
    if (isDirectory) return;
    const what = at === target ? 'is a file' : `lies under ${at}, which is a file`;
    throw new UsageError(`--out ${out} ${what}, not a directory: pass a directory (or an s3:// prefix)`, {
      code: 'E_OUT_NOT_DIR',
    });
  }
}

/** A whole number option from 1 to `max` (messages name `--name`); `fallback` when unset. */
export function positiveInt(
  name: string,
  value: string | undefined,
  fallback: number,
  max = 1 << 20,
): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new UsageError(`--${name} must be a whole number from 1 to ${max}, got "${value}"`);
  }
  return Number(value);
}

/** Parses a byte size such as `32MiB`, `64KB`, `1048576`. */
export function parseBytes(name: string, value: string): number {
  const m = /^(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(value.trim());
  if (!m) throw new UsageError(`--${name} must be a size like 32MiB or 1048576, got "${value}"`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const bytes = Number(m[1]) * mult;
  if (bytes < 1) throw new UsageError(`--${name} must be at least 1 byte`);
  return bytes;
}

/** The options both run commands take, as both validate them. */
export type CommonRunOptions = Pick<
  RunOptions,
  'workers' | 'partitions' | 'splitBytes' | 'tmpDir' | 'json' | 'metricsPort' | 'progress' | 'storage'
>;

/**
 * `--workers`, `--partitions` (1 to `maxPartitions`), `--split-size`, `--tmp-dir`, `--json`,
 * `--metrics-port`, `--no-progress` and the S3 flags, with the job's default partitions and split
 * size.
 */
export function validateCommonRunOptions(
  raw: Record<string, string | string[] | boolean | undefined>,
  defaults: { partitions: number; splitBytes: number },
  maxPartitions: number,
): CommonRunOptions {
  const port = raw['metrics-port'] as string | undefined;
  return {
    workers: positiveInt('workers', raw.workers as string | undefined, availableParallelism(), 256),
    partitions: positiveInt(
      'partitions',
      raw.partitions as string | undefined,
      defaults.partitions,
      maxPartitions,
    ),
    splitBytes: raw['split-size']
      ? parseBytes('split-size', raw['split-size'] as string)
      : defaults.splitBytes,
    tmpDir: raw['tmp-dir'] as string | undefined,
    json: raw.json === true,
    metricsPort: port === undefined ? undefined : positiveInt('metrics-port', port, 0, 65535),
    progress: raw['no-progress'] !== true,
    storage: Object.freeze({ s3: validateS3Options(raw) }),
  };
}

/** `--shard`, `--shards`, `--shuffle`, `--run-id`, `--barrier-timeout`, `--pushgateway`. */
export function validateShardOptions(
  raw: Record<string, string | string[] | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): Pick<RunOptions, 'shard' | 'shuffle' | 'runId' | 'barrierTimeoutSeconds' | 'pushgateway'> {
  let shard = { index: 0, count: 1 };
  const spec = raw.shard as string | undefined;
  const shards = raw.shards as string | undefined;
  if (spec !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(spec);
    if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2]) || Number(m[2]) > 10000)
      throw new UsageError(`--shard must be i/N with 0 <= i < N <= 10000, got "${spec}"`);
    shard = { index: Number(m[1]), count: Number(m[2]) };
    if (shards !== undefined && Number(shards) !== shard.count)
      throw new UsageError(`--shards ${shards} disagrees with --shard ${spec}`);
  } else if (shards !== undefined) {
    const count = positiveInt('shards', shards, 1, 10000);
    const index = env.JOB_COMPLETION_INDEX;
    if (index === undefined || !/^\d+$/.test(index) || Number(index) >= count) {
      throw new UsageError(
        `--shards ${count} needs this process's index: --shard i/${count}, or JOB_COMPLETION_INDEX (set by an Indexed Job) below ${count}; got ${index === undefined ? 'none' : `"${index}"`}`,
      );
    }
    shard = { index: Number(index), count };
  } else if (env.JOB_COMPLETION_INDEX !== undefined) {
    throw new UsageError(
      "JOB_COMPLETION_INDEX is set (an Indexed Job) but --shards is not: pass --shards N, the Job's completions",
    );
  }
  const shuffle = raw.shuffle as string | undefined;
  if (shard.count > 1 && shuffle === undefined)
    throw new UsageError(
      `--shuffle is required with ${shard.count} shards: a directory or s3:// prefix they all reach`,
    );
  if (shuffle !== undefined && isS3Url(shuffle)) parseS3Url(shuffle);
  const runId = raw['run-id'] as string | undefined;
  if (runId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(runId))
    throw new UsageError(`--run-id must be 1 to 64 letters, digits, '.', '_' or '-', got "${runId}"`);
  const timeout = raw['barrier-timeout'] as string | undefined;
  const pushgateway = raw.pushgateway as string | undefined;
  if (pushgateway !== undefined && !/^https?:\/\/[^\s/]+/.test(pushgateway))
    throw new UsageError(`--pushgateway must be an http:// or https:// URL, got "${pushgateway}"`);
  return {
    shard: Object.freeze(shard),
    shuffle,
    runId,
    barrierTimeoutSeconds: positiveInt('barrier-timeout', timeout, 600, 7 * 24 * 3600),
    pushgateway,
  };
}

/** `--s3-endpoint`, `--s3-region`, `--s3-checksums`, `--s3-part-size`; unset ones are left to the defaults. */
export function validateS3Options(raw: Record<string, string | string[] | boolean | undefined>): S3Options {
  const s3: S3Options = {};
  const endpoint = raw['s3-endpoint'] as string | undefined;
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new UsageError(`--s3-endpoint must be a URL such as http://127.0.0.1:9000, got "${endpoint}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new UsageError(`--s3-endpoint must be an http:// or https:// URL, got "${url.protocol}"`);
    if (url.username || url.password)
      throw new UsageError(
        '--s3-endpoint must not carry credentials: use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY',
      );
    s3.endpoint = endpoint;
  }
  const region = raw['s3-region'] as string | undefined;
  if (region !== undefined) {
    if (!/^[a-z0-9-]+$/.test(region))
      throw new UsageError(`--s3-region must be a region name such as eu-west-1, got "${region}"`);
    s3.region = region;
  }
  const checksums = raw['s3-checksums'] as string | undefined;
  if (checksums !== undefined) {
    if (checksums !== 'when_required' && checksums !== 'when_supported')
      throw new UsageError(`--s3-checksums must be when_required or when_supported, got "${checksums}"`);
    s3.checksums = checksums;
  }
  const partSize = raw['s3-part-size'] as string | undefined;
  if (partSize !== undefined) {
    const bytes = parseBytes('s3-part-size', partSize);
    if (bytes < 5 * 1024 * 1024 || bytes > 5 * 1024 ** 3)
      throw new UsageError(`--s3-part-size must be from 5MiB to 5GiB (S3's limits), got "${partSize}"`);
    s3.partSize = bytes;
  }
  return Object.freeze(s3);
}
