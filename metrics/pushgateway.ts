import { Pushgateway, type Registry } from 'prom-client';
import { ShardflowError, UsageError } from '../errors.js';

/** Options for {@link pushRunMetrics}. */
export interface PushRunMetricsOptions {
  /** Pushgateway base URL, `http://` or `https://`, e.g. `http://pushgateway:9091`. Required. */
  url: string;
  /** Job name, the `job` grouping label; it replaces the registry's `job` label, so pass the same. Required. */
  job: string;
  /** Run id, the `run_id` grouping label. Required. */
  runId: string;
  /** Shard such as `0/3`, the `shard` grouping label; omitted from the key when unset. Default: unset. */
  shard?: string;
  /** Gives up after this many milliseconds, connection and response included. Default 5000. */
  timeoutMs?: number;
}

/** Defaults for {@link PushRunMetricsOptions}. */
export const PUSHGATEWAY_DEFAULTS = Object.freeze({ timeoutMs: 5000 });

// Values the Pushgateway takes verbatim in a URL path segment; anything else goes base64url.
const PLAIN_SEGMENT = /^[A-Za-z0-9._~-]+$/;

/**
 * Pushes the registry to a Prometheus Pushgateway under the grouping key job / run_id / shard,
 * replacing that group (HTTP PUT): a retried shard's push replaces its earlier one, never adds.
 *
 * The Pushgateway overwrites body labels that are also in the grouping key with the key's values
 * (its README, "URL"): the registry's `job` default label is replaced by `options.job`, silently,
 * so pass the same name. Prometheus must scrape the Pushgateway with `honor_labels: true`, or these
 * labels become `exported_job` and so on. A `/` in a value (the shard `0/3`) is sent as
 * `name@base64/...`; plain or %2F-encoded it splits the path and the Pushgateway answers 400.
 *
 * Rejects with `E_USAGE` for bad options and `E_PUSHGATEWAY` (exit code 1, one line naming the
 * URL) when the push fails or times out. A failed push should not fail a run whose outputs are
 * already committed: callers log it as a warning.
 */
export async function pushRunMetrics(registry: Registry, options: PushRunMetricsOptions): Promise<void> {
  const { url, job, groupings, timeoutMs } = validate(options);
  const gateway = new Pushgateway(
    url.href,
    {
      // `timeout` bounds socket idleness; the signal bounds the whole request, DNS and connect included.
      timeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'Content-Type': registry.contentType },
    },
    registry,
  );
  try {
    await gateway.push({ jobName: job, groupings });
  } catch (err) {
    const reason = describe(err, timeoutMs);
    throw new ShardflowError(
      'E_PUSHGATEWAY',
      `pushing metrics to the Pushgateway at ${redact(url)} failed: ${reason}; the run's outputs are unaffected, check --pushgateway`,
      { cause: err },
    );
  }
}

function validate(options: PushRunMetricsOptions) {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch (err) {
    throw new UsageError(
      `pushgateway option \`url\` must be an http:// or https:// URL, got "${options.url}"`,
      {
        cause: err,
      },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(
      `pushgateway option \`url\` must be an http:// or https:// URL, got "${url.protocol}"`,
    );
  }
  // prom-client puts the job name in the path URI-encoded only, where a `/` would split it.
  if (typeof options.job !== 'string' || options.job === '' || options.job.includes('/')) {
    throw new UsageError('pushgateway option `job` must be a non-empty string without "/"');
  }
  if (typeof options.runId !== 'string' || options.runId === '') {
    throw new UsageError('pushgateway option `runId` must be a non-empty string');
  }
  if (options.shard !== undefined && (typeof options.shard !== 'string' || options.shard === '')) {
    throw new UsageError('pushgateway option `shard` must be a non-empty string when set');
  }
  const timeoutMs = options.timeoutMs ?? PUSHGATEWAY_DEFAULTS.timeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new UsageError(
      `pushgateway option \`timeoutMs\` must be a positive integer, got ${String(timeoutMs)}`,
    );
  }
  const groupings: Record<string, string> = {};
  addGrouping(groupings, 'run_id', options.runId);
  if (options.shard !== undefined) addGrouping(groupings, 'shard', options.shard);
  return { url, job: options.job, groupings, timeoutMs };
}

// https://github.com/prometheus/pushgateway#url: `name@base64/<RFC 4648 URL-safe base64>`.
function addGrouping(groupings: Record<string, string>, name: string, value: string): void {
  if (PLAIN_SEGMENT.test(value)) groupings[name] = value;
  else groupings[`${name}@base64`] = Buffer.from(value, 'utf8').toString('base64url');
}

function describe(err: unknown, timeoutMs: number): string {
  const e = (err ?? {}) as { name?: string; code?: string; message?: string };
  if (e.name === 'AbortError' || e.name === 'TimeoutError' || /timed out/i.test(e.message ?? '')) {
    return `no answer within ${timeoutMs} ms`;
  }
  // An AggregateError (every address of a host refused) has an empty message but a code.
  const text = e.message || e.code || String(err);
  // Keep the error one line: the Pushgateway's 400 bodies end in newlines and may span several.
  return text.replace(/\s+/g, ' ').trim();
}

// Names the gateway without any credentials the URL may carry (they still reach the request).
function redact(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/$/, '')}`;
}
