/**
 * The reduce task of an engine job: merges one partition's sections from every upstream task,
 * finalizes each key in sorted order, then either maps the rows into the next stage's keyed state
 * (a re-key) or writes them to the job's sinks: one part per partition for file sinks, one
 * ledgered COPY per partition for PostgreSQL tables.
 *
 * Memory: the partition's keys and states, and its final rows while they are written.
 */

import { ShardflowError } from '../errors.js';
import { joinUrl, writeObject } from '../io/storage.js';
import { hiveFolder, MAX_FOLDER_NAME_BYTES } from '../io/hive-path.js';
import { columnText, encodeRowsJsonl, encodeRowsParquet, encodeRowsCsv } from '../io/row-encode.js';
import { loadPgPart, type PgTableSpec } from '../io/pg-table-sink.js';
import { openSqlClient, type SqlClient } from '../io/sql-client.js';
import type { PgServerTarget } from '../io/pg-config.js';
import { stageState } from '../engine/define-job.js';
import { KeyedState } from '../engine/keyed-state.js';
import type { JobContext, OutputRow, StagedJobDefinition } from '../engine/job-contract.js';
import { RecordFolder, callMap } from './record-folder.js';
import { RejectsSpill } from './rejects-spill.js';
import type { JobReduceResult, JobReduceTask } from './job-task.js';

export async function reducePartition(
  job: StagedJobDefinition,
  task: JobReduceTask,
): Promise<JobReduceResult> {
  const stage = job.stages[task.stage];
  const p = task.partition;
  const state = new KeyedState(stageState(job, task.stage, task.options), task.partitions);
  for (const section of task.sections) if (section.length > 0) state.mergeSection(p, section);
  const ctx: JobContext = Object.freeze({ options: task.options, input: stage.name });
  const rows: OutputRow[] = [];
  let keys = 0;
  for (const [key, values] of state.finalized(p)) {
    keys++;
    const out = stage.finalize ? stage.finalize(key, values, ctx) : { key, ...values };
    if (out === null || out === undefined) continue;
    if (Array.isArray(out)) rows.push(...(out as OutputRow[]));
    else rows.push(out as OutputRow);
  }
  const next = job.stages[task.stage + 1];
  if (next !== undefined) {
    const folder = new RecordFolder(
      new KeyedState(stageState(job, task.stage + 1, task.options), task.partitions),
      new RejectsSpill(task.rejectsSpill),
    );
    const nextCtx: JobContext = Object.freeze({ options: task.options, input: stage.name });
    rows.forEach((row, i) => {
      folder.rowsRead++;
      folder.apply(callMap(next, row, nextCtx), i, p * 2 ** 32 + i, () => JSON.stringify(row));
    });
    return {
      partials: folder.state.encode(),
      keys,
      rows: rows.length,
      rejected: folder.rejected,
      rejectsSpill: folder.spill.close(),
      files: [],
      pgRows: {},
    };
  }
  return {
    partials: null,
    keys,
    rows: rows.length,
    rejected: {},
    rejectsSpill: null,
    ...(await writeSinks(job, task, rows)),
  };
}

const ENCODERS = { parquet: encodeRowsParquet, jsonl: encodeRowsJsonl, csv: encodeRowsCsv } as const;
const EXTENSIONS = { parquet: 'parquet', jsonl: 'jsonl', csv: 'csv' } as const;

/** Writes one partition's rows to every sink of the job. */
async function writeSinks(
  job: StagedJobDefinition,
  task: JobReduceTask,
  rows: OutputRow[],
): Promise<Pick<JobReduceResult, 'files' | 'pgRows'>> {
  const files: JobReduceResult['files'] = [];
  const pgRows: Record<string, number | null> = {};
  const part = `part-${String(task.partition).padStart(5, '0')}`;
  for (const [output, sink] of Object.entries(job.outputs)) {
    const where = `job "${job.name}", output "${output}", partition ${task.partition}`;
    if (sink.kind === 'pg') {
      if (task.pg === undefined) continue;
      const spec: PgTableSpec = {
        schema: task.pg.schema,
        table: sink.table,
        columns: sink.columns,
        mode: sink.mode,
        key: sink.key,
      };
      const client = await pgClient(task.pg.target);
      pgRows[output] = await loadPgPart(client, spec, task.pg.runId, task.partition, rows, where);
      continue;
    }
    if (sink.kind === 'report' || rows.length === 0) continue;
    if (sink.kind === 'hive') {
      // One part per folder value, the folders in sorted order.
      const groups = new Map<string, OutputRow[]>();
      for (const row of rows) {
        const value = columnText(row, sink.columns, sink.by, where) ?? '__HIVE_DEFAULT_PARTITION__'; // Hive's name for null
        let group = groups.get(value);
        if (group === undefined) groups.set(value, (group = []));
        group.push(row);
      }
      const columns = Object.fromEntries(Object.entries(sink.columns).filter(([c]) => c !== sink.by));
      for (const value of [...groups.keys()].sort()) {
        const folder = hiveFolder(sink.by, value);
        if (Buffer.byteLength(folder) > MAX_FOLDER_NAME_BYTES)
          throw new ShardflowError(
            'E_JOB_OUTPUT',
            `${where}: the folder name for "${value.slice(0, 40)}…" is over ${MAX_FOLDER_NAME_BYTES} bytes`,
          );
        const group = groups.get(value) as OutputRow[];
        const url = joinUrl(task.out, sink.path, folder, `${part}.${EXTENSIONS[sink.format]}`);
        const bytes = ENCODERS[sink.format](group, columns, `${where}, ${folder}`);
        await writeObject(url, [bytes]);
        files.push({ output, url, rows: group.length, bytes: bytes.length });
      }
      continue;
    }
    const url = joinUrl(task.out, sink.path, `${part}.${EXTENSIONS[sink.kind]}`);
    const bytes = ENCODERS[sink.kind](rows, sink.columns, where);
    await writeObject(url, [bytes]);
    files.push({ output, url, rows: rows.length, bytes: bytes.length });
  }
  return { files, pgRows };
}

const clients = new Map<string, Promise<SqlClient>>();

/** One small pool per worker thread and server; closed when the thread ends. */
function pgClient(target: PgServerTarget): Promise<SqlClient> {
  const id = JSON.stringify(target.config);
  let client = clients.get(id);
  if (client === undefined) {
    client = openSqlClient(target, { maxConnections: 1 });
    clients.set(id, client);
  }
  return client;
}
