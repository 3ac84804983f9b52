// The kernel API (`shardflow/kernel`): re-exports only. The building blocks a job's own kernel
// (engine/job-contract.ts, KernelSpec) is written with: storage, readers, the Parquet writer,
// PostgreSQL, partitioning. Jobs import `shardflow` and `shardflow/kernel`, nothing else.
export { ShardflowError, UsageError, InputError, PostgresError } from './errors.js';
// The kernel behind the contract: what a job declares in `kernel` and what its `run` is given.
export type {
  KernelSpec,
  KernelContext,
  KernelSummary,
  KernelTaskRunner,
  KernelRowStats,
  JobInputFile,
  JobMetric,
} from './engine/job-contract.js';
// Long-running jobs: follow mode, the per-object checkpoint, and a clock tests can fix.
export { followLoop, sleep, type FollowOptions, type FollowEnd } from './engine/follow.js';
export { now, offsetTimeText } from './engine/clock.js';
export {
  ObjectCheckpoint,
  pendingObjects,
  CHECKPOINT_TABLE,
  type CheckpointRow,
  type CheckpointSpec,
  type ChangedObject,
} from './io/pg-checkpoint.js';
export {
  storageFor,
  joinUrl,
  writeObject,
  configureStorage,
  storageOptions,
  isS3Url,
  parseS3Url,
  type Storage,
  type ObjectInfo,
  type ObjectWriter,
  type StorageOptions,
} from './io/storage.js';
export { expandInputs, type InputFile } from './io/input-paths.js';
export { planSplitRanges, DEFAULT_SPLIT_BYTES, type SplitRange } from './partitioners/plan-splits.js';
export { murmur3Bytes, murmur3Words, murmur3Int64, murmur3String } from './partitioners/murmur3.js';
export {
  hashPartitionInt64,
  hashPartitionString,
  hashPartitionBigInt,
  partitionOf,
} from './partitioners/hash-partition.js';
export { isCleanText, storableText, escapeNul, utf8SequenceEnd } from './io/utf8-check.js';
export { escapeHiveValue, hiveFolder, MAX_FOLDER_NAME_BYTES } from './io/hive-path.js';
// Reading CSV: a split's records (the line rule of ../shared/ARCHITECTURE.md), the decoder's
// record and field flags, a file's header, and records again at known positions.
export { readCsvSplit, type ReadCsvSplitOptions, type SplitReadResult } from './io/split-reader.js';
export { rawRecordText, fieldText, FIELD_QUOTED, FIELD_ESCAPED, type CsvRecord } from './io/csv-decoder.js';
export { readCsvHeader, type CsvHeader } from './io/csv-header.js';
export { readRecordsAt } from './io/records-at.js';
// Text of values as PostgreSQL COPY and the reports write them.
export { int64Text, dayText } from './io/text-format.js';
export {
  encodeParquetColumns,
  writeParquetColumns,
  wordsFromNumbers,
  Utf8Bytes,
  type ParquetColumn,
} from './io/parquet-columns.js';
export { resolvePgConfig, type PgTarget, type PgServerTarget } from './io/pg-config.js';
export { openSqlClient, type SqlClient, type CopyChunks } from './io/sql-client.js';
// PostgreSQL binary COPY rows, and the frame around them.
export { PgBinaryRowWriter, PG_BINARY_HEADER, PG_BINARY_TRAILER } from './io/pg-binary-copy.js';
export { quoteIdent, quoteQualified } from './io/quote-ident.js';
// Reading JSON Lines: a split's lines by the line rule (the callsign job).
export { readJsonlSplit, type ReadJsonlSplitOptions } from './io/jsonl-split-reader.js';
// Exact float sums (Shewchuk partials): the same bits whatever the grouping.
export { exactAdd, exactMerge, exactValue } from './engine/exact-sum.js';
// A plain-text table, as the summaries and reports print it.
export { formatTable } from './coordinator/print-table.js';
// A job's own PostgreSQL table, each part loaded once with its sink-ledger row.
export { preparePgTable, loadPgPart, finishPgTable, type PgTableSpec } from './io/pg-table-sink.js';
export { ExternalSort, type ExternalSortOptions, type ExternalSortStats } from './io/external-sort.js';
