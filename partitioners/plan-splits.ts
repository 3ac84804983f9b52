/** One byte range of one input file; it owns every record whose first byte lies in [start, end). */
export interface SplitRange {
  readonly start: number;
  readonly end: number;
}

/** Default split size: 32 MiB. */
export const DEFAULT_SPLIT_BYTES = 32 * 1024 * 1024;

/**
 * Cuts `[dataStart, size)` into ranges of about `splitBytes`. Ranges are not aligned to records:
 * readers apply the Hadoop line rule (skip to the first record start at or after `start`, read
 * through the record that crosses `end`), so alignment costs no planning I/O.
 */
export function planSplitRanges(size: number, splitBytes: number, dataStart = 0): SplitRange[] {
  if (!Number.isInteger(splitBytes) || splitBytes < 1)
    throw new RangeError('splitBytes must be a positive integer');
  const length = Math.max(0, size - dataStart);
  if (length === 0) return [{ start: dataStart, end: Math.max(size, dataStart) }];
  const count = Math.max(1, Math.round(length / splitBytes));
  const step = Math.ceil(length / count);
  const ranges: SplitRange[] = [];
  for (let start = dataStart; start < size; start += step)
    ranges.push({ start, end: Math.min(size, start + step) });
  return ranges;
}
