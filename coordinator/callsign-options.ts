/**
 * Options of `shardflow run callsign`, their defaults, and the one place they are validated:
 * messages name the option and say what to do.
 */

import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';
import { parseBytes, positiveInt, validateS3Options } from './run-options.js';
import { isS3Url, parseS3Url, type StorageOptions } from '../io/storage.js';

export interface CallsignRunOptions {
  collections: string[];
  predictions: string[];
  out: string;
  workers: number;
  partitions: number;
  splitBytes: number;
  tmpDir?: string;
  json: boolean;
  metricsPort?: number;
  progress: boolean;
  /** How to reach S3 for s3:// inputs and outputs. */
  storage: StorageOptions;
}

/**
 * Defaults: one worker per core, 64 partitions, 8 MiB splits. Smaller splits than the CSV job's:
 * a map task holds its split's normalised lines (2–3× the split), and JSON decoding is slow enough
 * (~8 MB/s a worker) that 32 MiB splits left workers idle at the end of the map stage.
 */
export const CALLSIGN_DEFAULTS = Object.freeze({ partitions: 64, splitBytes: 8 * 1024 * 1024 });

export function validateCallsignOptions(
  raw: Record<string, string | string[] | boolean | undefined>,
): CallsignRunOptions {
  const collections = (raw.collections as string[] | undefined) ?? [];
  const predictions = (raw.predictions as string[] | undefined) ?? [];
  if (collections.length === 0)
    throw new UsageError('--collections is required: a JSON Lines file, directory, glob or s3:// URL');
  if (predictions.length === 0)
    throw new UsageError('--predictions is required: a JSON Lines file, directory, glob or s3:// URL');
  const out = raw.out as string | undefined;
  if (!out) throw new UsageError('--out is required: the directory or s3:// prefix to write the outputs to');
  if (isS3Url(out)) parseS3Url(out);
  const port = raw['metrics-port'] as string | undefined;
  return Object.freeze({
    collections,
    predictions,
    out,
    workers: positiveInt('workers', raw.workers as string | undefined, availableParallelism(), 256),
    partitions: positiveInt(
      'partitions',
      raw.partitions as string | undefined,
      CALLSIGN_DEFAULTS.partitions,
      4096,
    ),
    splitBytes: raw['split-size']
      ? parseBytes('split-size', raw['split-size'] as string)
      : CALLSIGN_DEFAULTS.splitBytes,
    tmpDir: raw['tmp-dir'] as string | undefined,
    json: raw.json === true,
    metricsPort: port === undefined ? undefined : positiveInt('metrics-port', port, 0, 65535),
    progress: raw['no-progress'] !== true,
    storage: Object.freeze({ s3: validateS3Options(raw) }),
  });
}
