/**
 * The benchmark peer of the callsign job (issue #5), written as DuckDB SQL. Standalone script:
 *   node dist/bench/duckdb-callsign.js --collections FILE --predictions FILE --out DIR [--threads N]
 * It applies the job's reject rules, writes each profile's accepted lines, normalised, with
 * `COPY … (PARTITION_BY (profile_id))` under `labels/` and `predictions/`, and the
 * session aggregates to `aggregated-result/data.parquet`. Prints one JSON line
 * `{ engine, threads, seconds, rows_read, rows_valid, profiles, aggregated_rows, peak_rss_bytes }`.
 * Where it is simpler than shardflow is listed in bench/README.md.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdir, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { runAsEntry } from './entry.js';

/** Options of {@link runDuckdbCallsign}. */
export interface DuckdbCallsignOptions {
  /** The collections JSON Lines file (required). */
  collections: string;
  /** The predictions JSON Lines file (required). */
  predictions: string;
  /** Output folder (required); created when missing. */
  out: string;
  /** DuckDB worker threads. Default os.availableParallelism(). */
  threads?: number;
  /** Print each statement's wall time to stderr. Default false. */
  verbose?: boolean;
}

/** The one JSON line the script prints. */
export interface DuckdbCallsignResult {
  engine: 'duckdb';
  threads: number;
  seconds: number;
  rows_read: number;
  rows_valid: number;
  profiles: number;
  aggregated_rows: number;
  peak_rss_bytes: number;
}

const str = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/** The job's longest accepted line and longest folder name, in bytes (normalize-record.ts, io/hive-path.ts). */
const MAX_LINE_BYTES = 1024 * 1024;
const MAX_FOLDER_NAME_BYTES = 255;

/**
 * One input file as classified lines: `reason` (null when accepted), the ids as
 * text, the normal form's `metadata` and the body, in file order (CREATE TABLE AS keeps it). Each line is read whole as one VARCHAR (a CSV
 * scan with a delimiter and quote that JSON Lines never hold), so blank, too-long and broken lines
 * stay visible, as they are to shardflow's line reader.
 */
function classified(file: string, body: 'behaviour' | 'prediction'): string {
  const scan = `read_csv(${str(file)}, columns = {'line': 'VARCHAR'}, header = false, auto_detect = false,
    delim = chr(30), quote = '', escape = '', new_line = '\\n', max_line_size = ${4 * MAX_LINE_BYTES})`;
  const ids = ['profile_id', 'session_id', 'collection_id'];
  const camel = ['profileId', 'sessionId', 'collectionId'];
  // The four spellings of each id, in the job's order: under metadata before the top level, snake
  // case before camel case. One json_extract with a list of paths parses the line once.
  const paths = ids.flatMap((id, i) => [
    `'$.metadata.${id}'`,
    `'$.metadata.${camel[i]}'`,
    `'$.${id}'`,
    `'$.${camel[i]}'`,
  ]);
  // An id value: text when a non-blank string or a number, NULL otherwise (sf_bad_* marks other types).
  const good = (v: string) => `CASE
      WHEN json_type(${v}) = 'VARCHAR' AND trim(${v} ->> '$') <> '' THEN ${v} ->> '$'
      WHEN json_type(${v}) IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT') THEN ${v} ->> '$' END`;
  const bad = (v: string) => `coalesce(json_type(${v}) IN ('OBJECT', 'ARRAY', 'BOOLEAN'), false)`;
  const idOf = (k: number) =>
    `coalesce(${[0, 1, 2, 3].map((j) => good(`sf_ids[${4 * k + j + 1}]`)).join(', ')})`;
  const anyBad = (k: number) => [0, 1, 2, 3].map((j) => bad(`sf_ids[${4 * k + j + 1}]`)).join(' OR ');
  const dropIds = `'{${[...ids, ...camel].map((k) => `"${k}":null`).join(',')}}'`;
  const dropTop = `'{"metadata":null,"behaviour":null,"prediction":null,${[...ids, ...camel]
    .map((k) => `"${k}":null`)
    .join(',')}}'`;
  return `
    SELECT reason, profile_id, session_id, collection_id,
      CASE WHEN reason IS NULL THEN json_merge_patch(
        json_object('profile_id', profile_id, 'session_id', session_id, 'collection_id', collection_id),
        json_merge_patch(json_merge_patch(sf_json, ${dropTop}),
          CASE WHEN json_type(sf_json, '$.metadata') = 'OBJECT'
            THEN json_merge_patch(sf_json -> '$.metadata', ${dropIds}) ELSE '{}' END)) END AS metadata,
      CASE WHEN reason IS NULL THEN sf_json -> '$.${body}' END AS ${body}
    FROM (
      SELECT *, CASE
          WHEN strlen(line) > ${MAX_LINE_BYTES} THEN 'line_too_long'
          WHEN NOT sf_valid THEN 'bad_json'
          WHEN json_type(sf_json) <> 'OBJECT' THEN 'not_an_object'
          WHEN profile_id IS NULL AND sf_bad_profile THEN 'bad_profile_id'
          WHEN profile_id IS NULL THEN 'missing_profile_id'
          -- the escaped folder name: profile-id= plus 1 byte per safe byte, 3 per other byte
          WHEN 11 + strlen(profile_id) + 2 * strlen(regexp_replace(profile_id, '[A-Za-z0-9._-]', '', 'g'))
            > ${MAX_FOLDER_NAME_BYTES} THEN 'profile_id_too_long'
        END AS reason
      FROM (
        SELECT *, ${idOf(0)} AS profile_id, ${anyBad(0)} AS sf_bad_profile,
          ${idOf(1)} AS session_id, ${idOf(2)} AS collection_id
        FROM (
          SELECT *, CASE WHEN sf_valid AND json_type(sf_json) = 'OBJECT'
            THEN json_extract(sf_json, [${paths.join(', ')}]) END AS sf_ids
          FROM (
            SELECT line, sf_valid, CASE WHEN sf_valid THEN line::JSON END AS sf_json
            FROM (
              SELECT line, strlen(line) <= ${MAX_LINE_BYTES} AND json_valid(line) AS sf_valid
              FROM ${scan}
              WHERE line IS NOT NULL AND trim(line) <> ''
            )
          )
        )
      )
    )`;
}

/** Runs the callsign job in DuckDB and returns the summary line's fields. */
export async function runDuckdbCallsign(options: DuckdbCallsignOptions): Promise<DuckdbCallsignResult> {
  const threads = options.threads ?? availableParallelism();
  if (!Number.isSafeInteger(threads) || threads < 1)
    throw new UsageError('--threads must be a positive integer');
  if (!options.collections) throw new UsageError('--collections FILE is required');
  if (!options.predictions) throw new UsageError('--predictions FILE is required');
  if (!options.out) throw new UsageError('--out DIR is required');
  const out = resolve(options.out);
  const started = performance.now();
  await mkdir(join(out, 'aggregated-result'), { recursive: true });
  const spill = join(tmpdir(), `shardflow-duckdb-callsign-${process.pid}`);
  const db = await DuckDBInstance.create(':memory:', { threads: String(threads), temp_directory: spill });
  try {
    const conn = await db.connect();
    const run = async (label: string, sql: string): Promise<void> => {
      const t0 = performance.now();
      await conn.run(sql);
      if (options.verbose)
        process.stderr.write(`duckdb ${label}: ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
    };
    await run(
      'collections',
      `CREATE TEMP TABLE c AS ${classified(resolve(options.collections), 'behaviour')}`,
    );
    await run(
      'predictions',
      `CREATE TEMP TABLE p AS ${classified(resolve(options.predictions), 'prediction')}`,
    );
    // Per-profile files, in input order (insertion order is preserved by default). DuckDB 1.5 has no
    // PARTITION_BY for FORMAT json, so the CSV writer writes one unquoted column: the JSON text.
    const partitioned = (table: string, body: string, dir: string) =>
      run(
        `copy ${dir}`,
        `COPY (
           SELECT profile_id, CASE WHEN ${body} IS NULL THEN json_object('metadata', metadata)
             ELSE json_object('metadata', metadata, '${body}', ${body}) END AS line
           FROM ${table} WHERE reason IS NULL
         ) TO ${str(join(out, dir))} (FORMAT csv, PARTITION_BY (profile_id), HEADER false, QUOTE '',
           ESCAPE '', DELIMITER chr(30), FILE_EXTENSION 'jsonl', OVERWRITE_OR_IGNORE)`,
      );
    await partitioned('c', 'behaviour', 'labels');
    await partitioned('p', 'prediction', 'predictions');
    // Scores count only as JSON numbers; each prediction once; a NULL session id is its own session.
    const num = (path: string) =>
      `CASE WHEN json_type(prediction, '${path}') IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')
        THEN (prediction ->> '${path}')::DOUBLE END`;
    await run(
      'aggregates',
      `CREATE TEMP TABLE agg AS
      WITH cs AS (
        SELECT profile_id, session_id, count(DISTINCT collection_id) AS collections
        FROM c WHERE reason IS NULL GROUP BY ALL
      ), pv AS (
        SELECT profile_id, session_id, ${num('$.score')} AS score, ${num('$.confidence')} AS confidence,
          CASE WHEN json_type(prediction, '$.model_name') = 'VARCHAR'
            THEN prediction ->> '$.model_name' END AS model
        FROM p WHERE reason IS NULL
      ), ps AS (
        SELECT profile_id, session_id,
          sum(score * confidence) FILTER (WHERE score IS NOT NULL AND confidence IS NOT NULL) AS ws,
          sum(confidence) FILTER (WHERE score IS NOT NULL AND confidence IS NOT NULL) AS wc,
          avg(score) FILTER (WHERE model = 'swipe_model') AS mean_swipe_score,
          count(*) FILTER (WHERE model IN ('keystroke_model', 'keystrokes_model') AND score IS NULL)
            AS failed_keystroke_predictions
        FROM pv GROUP BY ALL
      )
      SELECT coalesce(cs.profile_id, ps.profile_id) AS profile_id,
        coalesce(cs.session_id, ps.session_id) AS session_id,
        coalesce(cs.collections, 0) AS collections,
        CASE WHEN wc IS NOT NULL AND wc <> 0 THEN ws / wc END AS weighted_mean_score,
        mean_swipe_score,
        coalesce(failed_keystroke_predictions, 0) AS failed_keystroke_predictions
      FROM cs FULL OUTER JOIN ps
        ON cs.profile_id = ps.profile_id AND cs.session_id IS NOT DISTINCT FROM ps.session_id`,
    );
    await run(
      'copy aggregated',
      `COPY (SELECT * FROM agg ORDER BY profile_id, session_id NULLS FIRST)
       TO ${str(join(out, 'aggregated-result', 'data.parquet'))} (FORMAT parquet)`,
    );
    const counts = await conn.runAndReadAll(`SELECT
        (SELECT count(*) FROM c) + (SELECT count(*) FROM p) AS rows_read,
        (SELECT count(*) FROM c WHERE reason IS NULL) + (SELECT count(*) FROM p WHERE reason IS NULL),
        (SELECT count(DISTINCT profile_id) FROM (SELECT profile_id FROM c WHERE reason IS NULL
          UNION ALL SELECT profile_id FROM p WHERE reason IS NULL)),
        (SELECT count(*) FROM agg)`);
    const [rowsRead, rowsValid, profiles, aggregated] = (counts.getRowsJS()[0] as bigint[]).map(Number);
    conn.closeSync();
    return {
      engine: 'duckdb',
      threads,
      seconds: (performance.now() - started) / 1000,
      rows_read: rowsRead,
      rows_valid: rowsValid,
      profiles,
      aggregated_rows: aggregated,
      peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    };
  } finally {
    db.closeSync();
    await rm(spill, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      collections: { type: 'string' },
      predictions: { type: 'string' },
      out: { type: 'string' },
      threads: { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const result = await runDuckdbCallsign({
    collections: values.collections ?? '',
    predictions: values.predictions ?? '',
    out: values.out ?? '',
    verbose: values.verbose,
    ...(values.threads === undefined ? {} : { threads: Number(values.threads) }),
  });
  process.stdout.write(JSON.stringify(result) + '\n');
}

runAsEntry(import.meta.url, 'duckdb-callsign', main);
