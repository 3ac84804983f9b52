/** `shardflow query interactions …`: the seeds' three questions, answered from PostgreSQL. */

import { resolvePgConfig } from '../io/pg-config.js';
import { openSqlClient, type SqlClient } from '../io/sql-client.js';
import { queryInteractions, type InteractionsQuestion } from '../jobs/interactions/pg-interactions.js';
import { UsageError } from '../errors.js';
import { formatTable } from './print-table.js';

export const QUESTIONS: readonly InteractionsQuestion[] = ['daily', 'top-users', 'top-products'];

/** Parses the question name; a usage error lists the choices. */
export function parseQuestion(value: string | undefined): InteractionsQuestion {
  if (value === undefined || !(QUESTIONS as readonly string[]).includes(value)) {
    throw new UsageError(
      `query interactions needs a question: ${QUESTIONS.join(' | ')}${value ? `, got "${value}"` : ''}`,
    );
  }
  return value as InteractionsQuestion;
}

/** Answers `question` with rows whose count column is named `interactions`. */
export async function answer(
  client: SqlClient,
  schema: string,
  question: InteractionsQuestion,
  limit?: number,
): Promise<Record<string, unknown>[]> {
  return (await queryInteractions(client, { schema, question, limit })) as unknown as Record<
    string,
    unknown
  >[];
}

export async function queryCommand(options: {
  question: InteractionsQuestion;
  limit?: number;
  pg?: string;
  schema: string;
  json: boolean;
}): Promise<void> {
  const target = resolvePgConfig({ url: options.pg });
  if (target.kind !== 'server') {
    throw new UsageError(
      'no PostgreSQL configured: pass --pg URL or set DATABASE_URL / PGHOST (the demo answers its own queries)',
    );
  }
  const client = await openSqlClient(target, { maxConnections: 1 });
  try {
    const rows = await answer(client, options.schema, options.question, options.limit);
    process.stdout.write(`${options.json ? JSON.stringify(rows) : formatTable(rows)}\n`);
  } finally {
    await client.close();
  }
}
