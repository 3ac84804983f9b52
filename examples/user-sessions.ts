/**
 * Sessions per user from JSON Lines events: a gap of more than `--gap` (default 30 minutes)
 * between two events of a user starts a new session. One row per session, with its start, end
 * and number of events, into Parquet, JSON Lines folders by day (`by-day/day=YYYY-MM-DD/`), the
 * PostgreSQL table `user_sessions` (upserted by user and session start: a rerun updates, never
 * duplicates), and a JSON report of the run's counts.
 *
 * The session state is this job's own monoid: a user's sessions as sorted [start, end, events]
 * intervals; merging two partials sorts the intervals and joins those closer than the gap, which
 * gives the same sessions whatever way the events were split.
 *
 *   shardflow run ./dist/examples/user-sessions.js --events 'events/*.jsonl' --out out/ [--gap 30m]
 */

import {
  defineJob,
  emit,
  hiveFolders,
  jsonl,
  jsonlFile,
  parquet,
  pgTable,
  report,
  type Aggregate,
} from 'shardflow';

interface Options {
  gap: number;
}

/** [start, end, events] per session, sorted by start. */
type Sessions = number[];

function sessions(gapMs: number): Aggregate<Sessions, number, Sessions> {
  const coalesce = (flat: Sessions): Sessions => {
    const spans: number[][] = [];
    for (let i = 0; i < flat.length; i += 3) spans.push(flat.slice(i, i + 3));
    spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const out: Sessions = [];
    for (const [start, end, events] of spans) {
      const last = out.length - 3;
      if (last >= 0 && start - out[last + 1] <= gapMs) {
        out[last + 1] = Math.max(out[last + 1], end);
        out[last + 2] += events;
      } else out.push(start, end, events);
    }
    return out;
  };
  return {
    name: 'sessions',
    init: () => [],
    update: (s, at) => coalesce([...s, at, at, 1]),
    merge: (a, b) => coalesce([...a, ...b]),
    finalize: (s) => s,
    encode: (s) => new Uint8Array(Float64Array.from(s).buffer),
    decode: (b) => Array.from(new Float64Array(b.slice().buffer)),
  };
}

const SESSION_COLUMNS = {
  user_id: 'string',
  session_start: 'timestamp',
  session_end: 'timestamp',
  events: 'int64',
  seconds: 'double',
} as const;

export default defineJob<Options>({
  name: 'user-sessions',
  description: 'sessions per user from JSON Lines events (a gap over --gap starts a new session)',
  options: {
    gap: { type: 'duration', help: 'the longest pause inside one session', default: '30m' },
  },
  inputs: {
    events: jsonl({
      columns: {
        user_id: { type: 'string', aliases: ['userId', 'user'] },
        ts: { type: 'timestamp', aliases: ['timestamp', 'time'] },
        event: { type: 'string', required: false },
      },
    }),
  },
  stages: [
    {
      name: 'sessions',
      map: (r) => emit(r.user_id as string, { sessions: r.ts }),
      state: (options) => ({ sessions: sessions(options.gap) }),
      finalize: (user, v) => {
        const s = v.sessions as Sessions;
        const rows = [];
        for (let i = 0; i < s.length; i += 3)
          rows.push({
            user_id: user,
            session_start: s[i],
            session_end: s[i + 1],
            events: s[i + 2],
            seconds: (s[i + 1] - s[i]) / 1000,
            day: s[i], // the folder of by-day: the session's first day (UTC)
          });
        return rows;
      },
    },
  ],
  outputs: {
    sessions: parquet('sessions', SESSION_COLUMNS),
    'sessions-jsonl': jsonlFile('sessions-jsonl', SESSION_COLUMNS),
    'by-day': hiveFolders('by-day', 'day', { ...SESSION_COLUMNS, day: 'date' }, { format: 'jsonl' }),
    table: pgTable('user_sessions', SESSION_COLUMNS, { mode: 'upsert', key: ['user_id', 'session_start'] }),
    report: report('report.json'),
  },
});
