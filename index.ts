// The public API: re-exports only.
// Writing a job (README "Write your own job"): the contract, its constructors and the monoids.
export {
  defineJob,
  csv,
  jsonl,
  jsonArray,
  reject,
  emit,
  parquet,
  csvFile,
  jsonlFile,
  pgTable,
  hiveFolders,
  report,
  isJobDefinition,
} from './engine/define-job.js';
export type {
  JobDefinition,
  JobContext,
  StageSpec,
  InputSpec,
  SinkSpec,
  OptionSpec,
  Schema,
  ColumnSpec,
  ColumnType,
  HeaderRule,
  MapResult,
  Update,
  Reject,
  OutputRow,
  OutputColumns,
  OutputType,
} from './engine/job-contract.js';
export {
  count,
  sum,
  exactSum,
  min,
  max,
  mean,
  countDistinct,
  first,
  firstN,
  topK,
  type Aggregate,
} from './engine/monoids.js';
export { normalizeHeaderName, parseTimestamp } from './engine/schema.js';
export { runJob, type JobRunOptions, type JobRunSummary } from './coordinator/run-job.js';
export { ShardflowError, UsageError, InputError, PostgresError } from './errors.js';
export {
  CsvDecoder,
  fieldText,
  rawRecordText,
  FIELD_QUOTED,
  FIELD_ESCAPED,
  type CsvRecord,
} from './io/csv-decoder.js';
export { readCsvSplit, type ReadCsvSplitOptions, type SplitReadResult } from './io/split-reader.js';
export { readCsvHeader, type CsvHeader } from './io/csv-header.js';
export { expandInputs, type InputFile } from './io/input-paths.js';
export { resolvePgConfig, type PgTarget } from './io/pg-config.js';
export { openSqlClient, type SqlClient } from './io/sql-client.js';
export { murmur3Bytes, murmur3Words, murmur3Int64, murmur3String } from './partitioners/murmur3.js';
export {
  hashPartitionInt64,
  hashPartitionString,
  hashPartitionBigInt,
} from './partitioners/hash-partition.js';
export { planSplitRanges, DEFAULT_SPLIT_BYTES, type SplitRange } from './partitioners/plan-splits.js';
export { CountTable, type CountEntries, type CountTableHandle } from './jobs/interactions/count-table.js';
export { firstByPosition } from './workers/aggregates/distinct.js';
export { createRunMetrics, type RunMetrics } from './metrics/run-metrics.js';
export { startMetricsServer } from './metrics/metrics-server.js';
export {
  runInteractions,
  type InteractionsOptions,
  type InteractionsSummary,
} from './jobs/interactions/run.js';
export { generateInteractions } from './jobs/interactions/generate.js';
