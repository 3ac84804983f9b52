/**
 * The Kubernetes files in k8s/: every YAML document validates against the Kubernetes (and
 * Prometheus Operator) schemas, the Indexed Job has the settings the many-pods design relies on,
 * and the Grafana dashboard queries only metrics the code exports, with PromQL a real parser reads.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { parseAllDocuments } from 'yaml';
import { createRunMetrics } from '../metrics/run-metrics.js';

const K8S = fileURLToPath(new URL('../../k8s/', import.meta.url));

interface Manifest {
  file: string;
  doc: { apiVersion?: string; kind?: string; metadata?: { name?: string } } & Record<string, unknown>;
}

interface Target {
  expr?: string;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
}

interface Dashboard {
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

// Every kind under k8s/ must have a schema here: a new kind fails the test until it is added.
const MODELS: Record<string, (doc: never) => { validate(): void }> = {
  'batch/v1 Job': (doc) => new Job(doc),
  'v1 ConfigMap': (doc) => new ConfigMap(doc),
  'v1 Secret': (doc) => new Secret(doc),
  'monitoring.coreos.com/v1 PodMonitor': (doc) => new PodMonitor(doc),
};

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

async function loadManifests(): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  for (const path of await yamlFiles(K8S)) {
    const file = relative(K8S, path);
    for (const document of parseAllDocuments(await readFile(path, 'utf8'))) {
      assert.deepEqual(document.errors, [], `${file}: YAML errors`);
      const doc = document.toJS() as Manifest['doc'] | null;
      if (doc !== null) manifests.push({ file, doc });
    }
  }
  return manifests;
}

function only(manifests: Manifest[], kind: string, file?: string): Manifest['doc'] {
  const found = manifests.filter((m) => m.doc.kind === kind && (file === undefined || m.file === file));
  assert.equal(found.length, 1, `expected one ${kind}${file ? ` in ${file}` : ''}, found ${found.length}`);
  return found[0].doc;
}

/** Bytes of a Kubernetes memory quantity such as `1536Mi`, `1Gi`, `1G`. */
function quantityBytes(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
  assert.ok(m, `unsupported quantity ${q}`);
  const scale: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(m[1]) * (m[2] ? scale[m[2]] : 1);
}

/** The metric names the code exports, with a histogram's `_bucket`, `_sum` and `_count` series. */
async function exportedMetricNames(): Promise<Set<string>> {
  const metrics = await createRunMetrics({
    job: 'interactions',
    labels: { shard: '0/1' },
  }).registry.getMetricsAsJSON();
  const names = new Set<string>();
  for (const m of metrics) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

/** `panel title: metric` for every shardflow_* name a query mentions that is not exported. */
function unknownMetrics(dashboard: Dashboard, exported: Set<string>): string[] {
  const queries: [string, string][] = [
    ...dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t): [string, string] => [p.title, t.expr ?? '']),
    ),
    ...dashboard.templating.list.map((v): [string, string] => [`$${v.name}`, JSON.stringify(v.query)]),
  ];
  return queries.flatMap(([where, expr]) =>
    [...expr.matchAll(/shardflow_[a-z_]+/g)]
      .filter(([name]) => !exported.has(name))
      .map(([name]) => `${where}: ${name}`),
  );
}

function expressions(dashboard: Dashboard): string[] {
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
}

/** A query with Grafana's variables replaced as Grafana would for job `interactions`, run `run-1`, all shards. */
function concrete(expr: string): string {
  return expr.replaceAll('$job', 'interactions').replaceAll('$run_id', 'run-1').replaceAll('$shard', '.*');
}

async function readDashboard(): Promise<{ text: string; dashboard: Dashboard }> {
  const text = await readFile(join(K8S, 'grafana/dashboard.json'), 'utf8');
  return { text, dashboard: JSON.parse(text) as Dashboard };
}

test('every YAML document under k8s/ validates against its Kubernetes schema', async () => {
  const manifests = await loadManifests();
  const files = new Set(manifests.map((m) => m.file));
  for (const file of ['indexed-job.yaml', 'configmap.yaml', 'secret.example.yaml', 'podmonitor.yaml']) {
    assert.ok(files.has(file), `k8s/${file} is missing or empty`);
  }
  assert.ok(files.has(join('grafana', 'dashboard-configmap.yaml')), 'k8s/grafana/dashboard-configmap.yaml');
  for (const { file, doc } of manifests) {
    const key = `${doc.apiVersion} ${doc.kind}`;
    const model = MODELS[key];
    assert.ok(model, `${file}: no schema for ${key}; add it to MODELS`);
    assert.ok(doc.metadata?.name, `${file}: ${key} without metadata.name`);
    assert.doesNotThrow(() => model(doc as never).validate(), `${file}: ${key} ${doc.metadata.name}`);
  }
  // The validation has teeth: a wrong enum and a wrong type are both reported.
  const job = structuredClone(only(manifests, 'Job')) as {
    spec: { completionMode: string; completions: unknown };
  };
  job.spec.completionMode = 'Indexd';
  job.spec.completions = '3';
  assert.throws(
    () => MODELS['batch/v1 Job'](job as never).validate(),
    /completionMode[\s\S]*completions|completions[\s\S]*completionMode/,
  );
});

test('the Indexed Job: per-index retries, exit code 2 fails the index, resources, secrets, metrics port', async () => {
  const manifests = await loadManifests();
  const job = new Job(only(manifests, 'Job', 'indexed-job.yaml') as never);
  const spec = job.spec!;
  assert.equal(spec.completionMode, 'Indexed');
  assert.ok(spec.completions! >= 2, 'completions');
  assert.equal(spec.parallelism, spec.completions, 'every shard runs at once: reduce waits for all');
  assert.ok(spec.backoffLimitPerIndex! >= 1, 'backoffLimitPerIndex');
  assert.equal(typeof spec.maxFailedIndexes, 'number');
  assert.equal(spec.podReplacementPolicy, 'Failed');
  assert.ok(spec.ttlSecondsAfterFinished! > 0, 'ttlSecondsAfterFinished');

  const rules = spec.podFailurePolicy!.rules;
  const failIndex = rules.find((r) => r.action === 'FailIndex');
  assert.equal(failIndex?.onExitCodes?.operator, 'In');
  assert.deepEqual(failIndex.onExitCodes.values, [2], 'exit code 2 (bad usage or input) fails the index');
  assert.ok(
    rules.some((r) => r.action === 'Ignore' && r.onPodConditions?.some((c) => c.type === 'DisruptionTarget')),
    'disruptions are ignored',
  );

  const pod = spec.template.spec!;
  assert.equal(pod.restartPolicy, 'Never');
  assert.equal(pod.containers.length, 1);
  const [container] = pod.containers;
  assert.equal(failIndex!.onExitCodes!.containerName ?? container.name, container.name);

  // Args: the shard count equals completions; the index comes from JOB_COMPLETION_INDEX.
  const args = container.args!;
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i === -1 ? undefined : args[i + 1];
  };
  assert.deepEqual(args.slice(0, 2), ['run', 'interactions']);
  assert.equal(Number(arg('--shards')), spec.completions, '--shards equals completions');
  assert.equal(arg('--shard'), undefined, 'the index comes from JOB_COMPLETION_INDEX');
  for (const option of ['--input', '--out', '--shuffle', '--pushgateway', '--metrics-port', '--tmp-dir']) {
    assert.ok(arg(option), `${option} is passed`);
  }

  // Every $(VAR) in the args is a key of the ConfigMap the container loads.
  const configMap = only(manifests, 'ConfigMap', 'configmap.yaml') as {
    metadata: { name: string };
    data: Record<string, string>;
  };
  const secret = only(manifests, 'Secret', 'secret.example.yaml') as {
    metadata: { name: string };
    data?: unknown;
    stringData: Record<string, string>;
  };
  const envFrom = container.envFrom ?? [];
  assert.ok(
    envFrom.some((e) => e.configMapRef?.name === configMap.metadata.name),
    'envFrom the ConfigMap',
  );
  assert.ok(
    envFrom.some((e) => e.secretRef?.name === secret.metadata.name),
    'envFrom the Secret',
  );
  const referenced = args.flatMap((a) => [...a.matchAll(/\$\(([A-Z0-9_]+)\)/g)].map((m) => m[1]));
  assert.ok(referenced.length > 0);
  for (const name of referenced) assert.ok(name in configMap.data, `$(${name}) is not in the ConfigMap`);
  assert.match(configMap.data[/\$\((\w+)\)/.exec(arg('--shuffle')!)![1]], /^s3:\/\//);

  // The Secret example holds placeholders only, under the names the program reads.
  assert.equal(secret.data, undefined, 'no base64 data in the example');
  assert.deepEqual(Object.keys(secret.stringData).sort(), [
    'AWS_ACCESS_KEY_ID',
    'AWS_REGION',
    'AWS_SECRET_ACCESS_KEY',
    'DATABASE_URL',
  ]);
  for (const [key, value] of Object.entries(secret.stringData)) assert.equal(value, 'REPLACE_ME', key);

  // Resources: two CPUs, memory above the run's ~1 GB peak and at most 1.5 GiB.
  const { requests, limits } = container.resources!;
  assert.equal(String(requests!.cpu), '2');
  assert.equal(String(limits!.cpu), '2');
  assert.ok(quantityBytes(requests!.memory!) >= 2 ** 30, 'memory request >= 1Gi');
  const memoryLimit = quantityBytes(limits!.memory!);
  assert.ok(memoryLimit >= 2 ** 30 && memoryLimit <= 1.5 * 2 ** 30, 'memory limit within 1Gi..1.5Gi');

  // Metrics: the named port, the --metrics-port arg and the scrape annotations agree.
  const port = container.ports!.find((p) => p.name === 'metrics');
  assert.equal(port?.containerPort, 9464);
  assert.equal(Number(arg('--metrics-port')), port.containerPort);
  const annotations = spec.template.metadata!.annotations!;
  assert.equal(annotations['prometheus.io/scrape'], 'true');
  assert.equal(Number(annotations['prometheus.io/port']), port.containerPort);
  assert.equal(annotations['prometheus.io/path'], '/metrics');

  // Non-root with a numeric uid (the image's), read-only root, /tmp an emptyDir for spill files.
  const uid = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
  assert.ok(Number.isInteger(uid) && uid! > 0, 'numeric non-root uid');
  assert.equal(pod.securityContext?.runAsNonRoot ?? container.securityContext?.runAsNonRoot, true);
  assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
  const tmpMount = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
  assert.ok(tmpMount, '/tmp is mounted');
  assert.ok(pod.volumes?.find((v) => v.name === tmpMount.name)?.emptyDir, '/tmp is an emptyDir');
  assert.equal(arg('--tmp-dir'), '/tmp');

  const dockerfile = await readFile(join(K8S, 'Dockerfile'), 'utf8');
  const users = [...dockerfile.matchAll(/^USER\s+(\d+)/gm)].map((m) => Number(m[1]));
  assert.deepEqual(users.slice(-1), [uid], 'the image runs as the uid the Job sets');
  assert.match(dockerfile, /^ENTRYPOINT \["node", "\/app\/dist\/coordinator\/cli\.js"\]$/m);

  // The PodMonitor scrapes these pods on the named port and keeps their job label.
  const podMonitor = new PodMonitor(only(manifests, 'PodMonitor') as never);
  const selector = podMonitor.spec.selector.matchLabels!;
  const podLabels = spec.template.metadata!.labels!;
  for (const [k, v] of Object.entries(selector)) assert.equal(podLabels[k], v, `pod label ${k}`);
  const endpoint = podMonitor.spec.podMetricsEndpoints![0];
  assert.equal(endpoint.port, 'metrics');
  assert.equal(endpoint.honorLabels, true);
});

test('the dashboard parses, every panel queries metrics the code exports', async () => {
  const { dashboard } = await readDashboard();
  assert.ok(dashboard.schemaVersion >= 36, 'schemaVersion');
  const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
  assert.deepEqual(
    [vars.get('datasource')?.type, vars.get('datasource')?.query],
    ['datasource', 'prometheus'],
  );
  assert.equal(vars.get('job')?.type, 'query');
  assert.equal(vars.get('run_id')?.type, 'query');

  const panels = dashboard.panels.filter((p) => p.type !== 'row');
  assert.ok(panels.length >= 6);
  assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, 'unique panel ids');
  for (const p of panels) {
    assert.ok((p.targets ?? []).length >= 1, `panel "${p.title}" has no target`);
    for (const t of p.targets!) assert.match(t.expr ?? '', /shardflow_[a-z_]+/, `panel "${p.title}" query`);
  }

  const exported = await exportedMetricNames();
  assert.ok(exported.has('shardflow_task_duration_seconds_bucket'));
  assert.deepEqual(unknownMetrics(dashboard, exported), []);
  // The check has teeth: one misspelt metric in one panel is reported by panel and name.
  const broken = structuredClone(dashboard);
  broken.panels.find((p) => p.targets?.length)!.targets![0].expr =
    'sum(rate(shardflow_rows_readd_total[1m]))';
  assert.equal(unknownMetrics(broken, exported).length, 1);
  assert.match(unknownMetrics(broken, exported)[0], /shardflow_rows_readd_total$/);

  // What the issue asks the dashboard to show.
  const all = expressions(dashboard).join('\n');
  for (const name of [
    'shardflow_rows_read_total',
    'shardflow_rows_rejected_total',
    'shardflow_task_duration_seconds_bucket',
    'shardflow_pool_utilization',
    'shardflow_pool_queue_size',
    'shardflow_shuffle_bytes_total',
  ]) {
    assert.ok(all.includes(name), `no panel shows ${name}`);
  }
  assert.match(all, /histogram_quantile\(0\.95, sum by \(le, stage\)/);
});

test('the Grafana ConfigMap carries dashboard.json, labelled for the sidecar', async () => {
  const { dashboard } = await readDashboard();
  const manifests = await loadManifests();
  const configMap = only(manifests, 'ConfigMap', join('grafana', 'dashboard-configmap.yaml')) as {
    metadata: { labels: Record<string, string> };
    data: Record<string, string>;
  };
  assert.equal(configMap.metadata.labels.grafana_dashboard, '1');
  const files = Object.keys(configMap.data);
  assert.equal(files.length, 1);
  assert.match(files[0], /\.json$/);
  assert.deepEqual(
    JSON.parse(configMap.data[files[0]]),
    dashboard,
    'the ConfigMap drifted from dashboard.json',
  );
});

test('promtool parses every dashboard query and they select the chosen run, live and pushed', async (t) => {
  if (spawnSync('promtool', ['--version']).error) {
    t.skip('promtool not on PATH (apt-get install prometheus)');
    return;
  }
  const { dashboard } = await readDashboard();
  const panel = (title: string): string => {
    const p = dashboard.panels.find((x) => x.title === title);
    assert.ok(p?.targets?.[0]?.expr, `panel "${title}"`);
    return concrete(p.targets[0].expr);
  };
  const dir = await mkdtemp(join(tmpdir(), 'shardflow-promql-'));
  t.after(() => rm(dir, { recursive: true, force: true }));

  // Every query parses: as recording rules, which `promtool check rules` type-checks.
  const rules = {
    groups: [
      {
        name: 'dashboard',
        rules: expressions(dashboard).map((expr, i) => ({
          record: `shardflow:dashboard_query_${i}`,
          expr: concrete(expr),
        })),
      },
    ],
  };
  await writeFile(join(dir, 'rules.json'), JSON.stringify(rules));
  const check = spawnSync('promtool', ['check', 'rules', join(dir, 'rules.json')], { encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool check rules:\n${check.stdout}${check.stderr}`);

  // And they mean what they say: run-1 on two live pods, run-0's old pod and its pushed final
  // counters, and run-1's pushed final counters (labelled run_id by the Pushgateway's grouping key).
  const live = (pod: string, shard: string) =>
    `job="interactions",shard="${shard}",pod="${pod}",instance="${pod}:9464"`;
  const pushed = (run: string, shard: string) =>
    `job="interactions",shard="${shard}",pod="pushgateway-0",run_id="${run}"`;
  const series = [
    [`shardflow_run_info{${live('p0', '0/2')},run_id="run-1"}`, '1x10'],
    [`shardflow_rows_read_total{${live('p0', '0/2')}}`, '0+120x10'],
    [`shardflow_run_info{${live('p1', '1/2')},run_id="run-1"}`, '1x10'],
    [`shardflow_rows_read_total{${live('p1', '1/2')}}`, '0+60x10'],
    [`shardflow_rows_rejected_total{${live('p1', '1/2')},reason="bad_date"}`, '0 1 2 3 4 5 6 7 7 7'],
    [`shardflow_pool_utilization{${live('p1', '1/2')}}`, '0.5x10'],
    [`shardflow_run_info{${live('old0', '0/2')},run_id="run-0"}`, '1x10'],
    [`shardflow_rows_read_total{${live('old0', '0/2')}}`, '0+6000x10'],
    [`shardflow_pool_utilization{${live('old0', '0/2')}}`, '0.9x10'],
    [`shardflow_run_info{${pushed('run-0', '0/2')}}`, '1x10'],
    [`shardflow_rows_read_total{${pushed('run-0', '0/2')}}`, '500x10'],
    [`shardflow_rows_rejected_total{${pushed('run-0', '0/2')},reason="bad_date"}`, '99x10'],
    [`shardflow_run_info{${pushed('run-1', '0/2')}}`, '_ _ _ _ 1x6'],
    [`shardflow_rows_rejected_total{${pushed('run-1', '0/2')},reason="bad_date"}`, '_ _ _ _ 4x6'],
  ].map(([s, values]) => ({ series: s, values }));
  const unitTests = {
    rule_files: [],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: series,
        promql_expr_test: [
          {
            expr: panel('Rows read/s per shard'),
            eval_time: '5m',
            exp_samples: [
              { labels: '{shard="0/2"}', value: 2 },
              { labels: '{shard="1/2"}', value: 1 },
            ],
          },
          {
            expr: panel('Rows read/s, all shards'),
            eval_time: '5m',
            exp_samples: [{ labels: '{}', value: 3 }],
          },
          {
            // Shard 1/2 live (7) plus shard 0/2 pushed (4); run-0's 99 stays out.
            expr: panel('Rejected rows by reason, this run'),
            eval_time: '9m',
            exp_samples: [{ labels: '{reason="bad_date"}', value: 11 }],
          },
          {
            expr: panel('Pool utilisation per shard'),
            eval_time: '5m',
            exp_samples: [{ labels: '{shard="1/2"}', value: 0.5 }],
          },
        ],
      },
    ],
  };
  await writeFile(join(dir, 'tests.json'), JSON.stringify(unitTests));
  const run = spawnSync('promtool', ['test', 'rules', join(dir, 'tests.json')], { encoding: 'utf8' });
  assert.equal(run.status, 0, `promtool test rules:\n${run.stdout}${run.stderr}`);
});
