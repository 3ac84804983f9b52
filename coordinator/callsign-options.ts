/**
 * Options of `shardflow run callsign`, their defaults, and the one place they are validated:
 * messages name the option and say what to do.
 */

import { UsageError } from '../errors.js';
import { validateCommonRunOptions, type CommonRunOptions } from './run-options.js';
import { isS3Url, parseS3Url } from '../io/storage.js';

export interface CallsignRunOptions extends CommonRunOptions {
  collections: string[];
  predictions: string[];
  out: string;
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
  return Object.freeze({
    collections,
    predictions,
    out,
    ...validateCommonRunOptions(raw, CALLSIGN_DEFAULTS, 4096),
  });
}
