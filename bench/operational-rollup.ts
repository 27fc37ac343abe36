/**
 * Benchmark of operational metrics (npm run bench:operational-rollup):
 * 1. BENCH_ROWS (default 5,000,000) raw rows over the 30 complete UTC days before today, 5 types,
 *    50 label sets, loaded with INSERT … SELECT generate_series into a scratch database;
 * 2. a full rollup (OperationalMetricsProcessor.rollup) against a floor measured in the same run:
 *    one hand-written GROUP BY with percentile_cont over the same rows into a scratch table;
 * 3. the client API's rate with batches of 500 metrics over HTTP (autocannon).
 * Uses the PostgreSQL server of DATABASE_URL (a fresh database on it, dropped after), else an
 * embedded one under .data-bench.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import pg from 'pg';
import { createApp } from '../src/app.factory.js';
import { loadConfig } from '../src/common/config/config.js';
import { ensureDatabase, startEmbeddedPostgres, withDatabase } from '../src/common/database/embedded-postgres.js';
import { OperationalMetricsProcessor } from '../src/operational-metrics/operational-metrics.processor.js';
import { ROLLUP_AVG_SQL, ROLLUP_SUM_SQL } from '../src/operational-metrics/operational-metrics.repository.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 5_000_000);
const API_SECONDS = Number(process.env.BENCH_API_SECONDS ?? 10);
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const PROJECT_ID = '11111111-1111-4111-8111-111111111111';

const seconds = (start: number) => (performance.now() - start) / 1000;

async function main(): Promise<void> {
  const external = process.env.DATABASE_URL;
  const embedded = external ? undefined : await startEmbeddedPostgres({ dataDir: '.data-bench', port: 54339, onLog: () => undefined });
  const serverUrl = external ?? embedded!.url;
  const name = `trailmark_bench_oprollup_${randomBytes(4).toString('hex')}`;
  const url = await ensureDatabase(serverUrl, name);
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: url,
    ADMIN_API_KEY: ADMIN_KEY,
    JOBS_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  });
  const app = await createApp({ config, databaseUrl: url, adminApiKey: ADMIN_KEY });
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const rssPeak = { value: process.memoryUsage().rss };
  const sampler = setInterval(() => (rssPeak.value = Math.max(rssPeak.value, process.memoryUsage().rss)), 100);
  try {
    console.log(
      `operational-rollup bench: ${ROWS.toLocaleString('en')} raw rows, 30 days, 5 types, 50 label sets (${external ? 'DATABASE_URL server' : 'embedded PostgreSQL'})`,
    );
    await db.query(`INSERT INTO projects (id, name) VALUES ($1, 'bench')`, [PROJECT_ID]);

    // Label set n (0..49): actor a<n % 10> with queue q<n / 10> for n < 25, else with model
    // m<n / 10>; every set occurs with every type, every day.
    let start = performance.now();
    await db.query(
      `INSERT INTO operational_metrics (project_id, metric_type, value, labels, labels_key, recorded_at, received_at)
       SELECT $1, t.type, t.value, l.labels, l.labels_key, g.recorded_at, g.recorded_at
       FROM (
         SELECT i,
                (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
                  - interval '30 days' + (i::float8 / $2) * interval '30 days' AS recorded_at,
                i % 5 AS type_no, (i / 5) % 50 AS label_no
         FROM generate_series(0, $2 - 1) AS i
       ) g
       CROSS JOIN LATERAL (
         SELECT CASE g.type_no WHEN 0 THEN 'queue_depth' WHEN 1 THEN 'processing_time' WHEN 2 THEN 'error'
                               WHEN 3 THEN 'token_usage' ELSE 'confidence' END AS type,
                CASE g.type_no WHEN 0 THEN floor(random() * 100) WHEN 1 THEN random() * 2000 WHEN 2 THEN 1 + floor(random() * 3)
                               WHEN 3 THEN floor(random() * 4000) ELSE random() END AS value
       ) t
       CROSS JOIN LATERAL (
         SELECT CASE WHEN g.label_no < 25
                     THEN jsonb_build_object('actor', 'a' || g.label_no % 10, 'queue', 'q' || g.label_no / 10)
                     ELSE jsonb_build_object('actor', 'a' || g.label_no % 10, 'model', 'm' || g.label_no / 10) END AS labels,
                CASE WHEN g.label_no < 25
                     THEN 'actor:a' || g.label_no % 10 || '|queue:q' || g.label_no / 10
                     ELSE 'actor:a' || g.label_no % 10 || '|model:m' || g.label_no / 10 END AS labels_key
       ) l`,
      [PROJECT_ID, ROWS],
    );
    console.log(`load: ${seconds(start).toFixed(1)} s (INSERT … SELECT generate_series, 5 indexes maintained)`);
    await db.query(`VACUUM ANALYZE operational_metrics`);
    // A warm-up pass so that neither measurement pays for a cold cache.
    await db.query(`SELECT count(*), sum(value) FROM operational_metrics`);

    const floorSql = (sum: string, avg: string) => `
      CREATE UNLOGGED TABLE rollup_floor AS
      SELECT project_id, metric_type, (recorded_at AT TIME ZONE 'UTC')::date AS day, labels_key, labels,
             count(*) AS sample_count, ${sum} AS sum, min(value) AS min, max(value) AS max, ${avg} AS avg,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95
      FROM operational_metrics
      GROUP BY project_id, metric_type, (recorded_at AT TIME ZONE 'UTC')::date, labels_key, labels`;
    const floor = async (label: string, sum: string, avg: string) => {
      await db.query(`DROP TABLE IF EXISTS rollup_floor`);
      const t0 = performance.now();
      await db.query(floorSql(sum, avg));
      const s = seconds(t0);
      console.log(`floor (${label}): ${s.toFixed(2)} s`);
      return s;
    };
    const tempBytes = async () =>
      Number((await db.query(`SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()`)).rows[0].temp_bytes);

    const floorFloatFirst = await floor('GROUP BY, float8 sum/avg', 'sum(value)', 'avg(value)');
    const floorNumericFirst = await floor('GROUP BY, numeric sum/avg as the rollup', ROLLUP_SUM_SQL, ROLLUP_AVG_SQL);

    const processor = app.get(OperationalMetricsProcessor);
    const temp0 = await tempBytes();
    start = performance.now();
    const counts = await processor.rollup();
    const rollupSeconds = seconds(start);
    const rollupTemp = (await tempBytes()) - temp0;
    console.log(`rollup: ${rollupSeconds.toFixed(2)} s, ${JSON.stringify(counts)}, PostgreSQL temp files ${(rollupTemp / 1048576).toFixed(0)} MiB`);
    start = performance.now();
    const rerun = await processor.rollup();
    console.log(`rerun with nothing new: ${seconds(start).toFixed(2)} s, ${JSON.stringify(rerun)}`);

    const floorFloat = Math.min(floorFloatFirst, await floor('GROUP BY, float8 sum/avg, again', 'sum(value)', 'avg(value)'));
    const floorNumeric = Math.min(floorNumericFirst, await floor('GROUP BY, numeric sum/avg, again', ROLLUP_SUM_SQL, ROLLUP_AVG_SQL));
    const daily = (await db.query(`SELECT count(*)::int AS n FROM operational_metrics_daily`)).rows[0].n;
    const floorRows = (await db.query(`SELECT count(*)::int AS n FROM rollup_floor`)).rows[0].n;
    console.log(`daily rows: ${daily} (floor: ${floorRows})`);
    console.log(`ratio rollup / floor (same aggregates, numeric sums): ${(rollupSeconds / floorNumeric).toFixed(2)}`);
    console.log(`ratio rollup / floor (float8 sums): ${(rollupSeconds / floorFloat).toFixed(2)}`);

    // Client API over HTTP, batches of 500.
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.getHttpServer().address() as { port: number };
    const body = JSON.stringify({
      metrics: Array.from({ length: 500 }, (_, i) => ({
        type: ['queue_depth', 'processing_time', 'error', 'token_usage', 'confidence'][i % 5],
        value: i % 5 === 4 ? 0.5 : (i % 7) + 1,
        labels: { actor: `a${i % 10}`, queue: `q${i % 5}` },
      })),
    });
    const result = await autocannon({
      url: `http://127.0.0.1:${address.port}/v1/projects/${PROJECT_ID}/operational-metrics`,
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body,
      connections: 4,
      duration: API_SECONDS,
    });
    const ok = result['2xx'];
    console.log(
      `client API: ${(result.requests.average * 500).toFixed(0)} metrics/s (${result.requests.average.toFixed(1)} batches/s of 500, ` +
        `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${ok} 2xx / ${result.requests.total} requests, 4 connections, ${API_SECONDS} s)`,
    );
    console.log(`node RSS peak: ${(rssPeak.value / 1048576).toFixed(0)} MiB`);
  } finally {
    clearInterval(sampler);
    await db.end();
    await app.close();
    const admin = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.end();
    await embedded?.stop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
