/**
 * bench:session-metrics — N completed sessions with drafting events loaded straight into a fresh
 * database, handed to the metrics pipeline in one call (SessionMetricsService.enqueueCompleted,
 * as the aggregation does); measures the time until the last metrics row exists, and compares it
 * with one hand-written SQL statement computing the same five metrics for the same sessions.
 *
 *   npm run bench:session-metrics -- [N]     (default 100000; BENCH_DATABASE_URL, else DATABASE_URL, else an embedded server)
 *   SESSION_METRICS_BATCH_SIZE / SESSION_METRICS_CONCURRENCY tune the pipeline as in production.
 */
import 'reflect-metadata';
import pg from 'pg';
import { createApp } from '../src/app.factory.js';
import { loadConfig } from '../src/common/config/config.js';
import { withDatabase } from '../src/common/database/embedded-postgres.js';
import { resolveDatabase } from '../src/common/database/resolve-database.js';
import { SessionMetricsService } from '../src/session-metrics/session-metrics.service.js';

const N = Number(process.argv[2] ?? 100_000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Per session n: start, 1–3 pageviews, 1–3 drafts (n % 3 + 1) with n % 4 confirmations, 1–3 steps
// of which the last is left open every fifth session, 0–5 signals, a conversion every third, end.
const LOAD_EVENTS = `
INSERT INTO tracking_events (project_id, event_id, session_id, type, name, url, path, occurred_at, received_at)
SELECT $1, gen_random_uuid(), 'bench-' || n, e.type, e.name, e.url, e.path, $3::timestamptz + (n % 1000) * interval '1 minute' + e.at * interval '1 second', now()
FROM generate_series($2::int, $4::int) n
CROSS JOIN LATERAL (
  SELECT 'session_start' AS type, NULL AS name, NULL AS url, NULL AS path, 0 AS at
  UNION ALL SELECT 'pageview', NULL, 'https://shop.test/p/' || k, '/p/' || k, 5 + k * 20 FROM generate_series(1, n % 3 + 1) k
  UNION ALL SELECT 'draft_created', NULL, NULL, NULL, 10 + (n % 50) + k * 30 FROM generate_series(1, n % 3 + 1) k
  UNION ALL SELECT 'draft_confirmed', NULL, NULL, NULL, 40 + k * 30 FROM generate_series(1, n % 4) k
  UNION ALL SELECT 'step_started', 'step-' || k, NULL, NULL, 15 + k * 25 FROM generate_series(1, n % 3 + 1) k
  UNION ALL SELECT 'step_completed', 'step-' || k, NULL, NULL, 20 + k * 25 FROM generate_series(1, n % 3 + 1) k WHERE NOT (n % 5 = 0 AND k = n % 3 + 1)
  UNION ALL SELECT 'signal', NULL, NULL, NULL, 12 + k * 17 FROM generate_series(1, n % 6) k WHERE n % 6 > 0
  UNION ALL SELECT 'conversion', NULL, NULL, NULL, 150 FROM (SELECT 1) one WHERE n % 3 = 0
  UNION ALL SELECT 'session_end', NULL, NULL, NULL, 160 + n % 200
) e`;

const LOAD_SESSIONS = `
INSERT INTO sessions (project_id, session_id, status, started_at, ended_at, completed_at, duration_seconds, page_count,
                      event_count, entry_page, exit_page, journey_path, bounced, converted, aggregated_at)
SELECT project_id, session_id, 'completed', min(occurred_at), max(occurred_at), max(occurred_at),
       extract(epoch FROM max(occurred_at) - min(occurred_at)), count(*) FILTER (WHERE type = 'pageview'), count(*),
       NULL, NULL, '{}', false, bool_or(type = 'conversion'), now()
FROM tracking_events WHERE project_id = $1
GROUP BY project_id, session_id`;

// The floor: the same five metrics for every session in one statement written by hand for this
// data (no batching, no locks, no run records, no verifier), into a scratch table.
const FLOOR = `
CREATE UNLOGGED TABLE bench_floor AS
WITH st AS (
  SELECT session_id, name, bool_or(type = 'step_completed') AS done, max(occurred_at) FILTER (WHERE type = 'step_started') AS last_start
  FROM tracking_events WHERE project_id = $1 AND type IN ('step_started', 'step_completed')
  GROUP BY session_id, name HAVING bool_or(type = 'step_started')
), steps AS (
  SELECT session_id, count(*) AS started, count(*) FILTER (WHERE done) AS completed,
         (array_agg(name ORDER BY last_start DESC) FILTER (WHERE NOT done))[1] AS open_last
  FROM st GROUP BY session_id
), ev AS (
  SELECT session_id, min(occurred_at) FILTER (WHERE type = 'draft_created') AS first_draft,
         count(*) FILTER (WHERE type = 'draft_created') AS drafts, count(*) FILTER (WHERE type = 'draft_confirmed') AS confirmed,
         count(*) FILTER (WHERE type = 'signal') AS signals
  FROM tracking_events WHERE project_id = $1 GROUP BY session_id
)
SELECT s.session_id,
       round(extract(epoch FROM ev.first_draft - s.started_at) * 1000) AS ttfd,
       steps.completed::float8 / nullif(steps.started, 0) AS completion,
       ev.confirmed::float8 / nullif(ev.drafts, 0) AS confirmation,
       ev.signals / greatest(coalesce(s.duration_seconds, 0) / 60, 1) AS density,
       NOT s.converted AND coalesce(steps.started > steps.completed, false) AS dropped,
       CASE WHEN NOT s.converted AND steps.started > steps.completed THEN steps.open_last END AS step
FROM sessions s JOIN ev ON ev.session_id = s.session_id LEFT JOIN steps ON steps.session_id = s.session_id
WHERE s.project_id = $1 AND s.status = 'completed'`;

async function main(): Promise<void> {
  // BENCH_DATABASE_URL names the server, as for the other benches (a scratch database is made on it).
  const base = loadConfig({
    ...process.env,
    DATABASE_URL: process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    DATA_DIR: process.env.DATA_DIR ?? '.data-bench',
  });
  const server = await resolveDatabase(base, () => undefined);
  const dbName = `trailmark_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = withDatabase(server.url, dbName);
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: url,
    JOBS_ENABLED: 'true',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ADMIN_API_KEY: 'bench-admin-key-0123456789abcdef',
  });
  const app = await createApp({ config, databaseUrl: url, adminApiKey: config.adminApiKey! });
  await app.init();
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const project = (await db.query(`INSERT INTO projects (name) VALUES ('bench') RETURNING id`)).rows[0].id as string;
    let t = performance.now();
    for (let from = 1; from <= N; from += 20_000) {
      await db.query(LOAD_EVENTS, [project, from, '2026-03-02T00:00:00Z', Math.min(N, from + 19_999)]);
    }
    await db.query(LOAD_SESSIONS, [project]);
    await db.query(`ANALYZE tracking_events_default; ANALYZE sessions`);
    const events = (await db.query(`SELECT count(*)::int AS n FROM tracking_events`)).rows[0].n;
    console.log(`loaded ${N} sessions, ${events} events in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    await db.query(FLOOR, [project]);
    const floorS = (performance.now() - t) / 1000;

    const ids = (await db.query(`SELECT session_id FROM sessions WHERE project_id = $1`, [project])).rows.map((r) => r.session_id as string);
    t = performance.now();
    await app.get(SessionMetricsService).enqueueCompleted(project, ids);
    for (;;) {
      const done = (await db.query(`SELECT count(*)::int AS n FROM session_metrics`)).rows[0].n;
      if (done >= N) break;
      await sleep(100);
    }
    const pipelineS = (performance.now() - t) / 1000;

    const mismatches = (
      await db.query(`
        SELECT count(*)::int AS n FROM bench_floor f JOIN session_metrics m ON m.session_id = f.session_id
        WHERE m.time_to_first_draft_ms IS DISTINCT FROM f.ttfd::bigint
           OR abs(coalesce(m.completion_rate, -1) - coalesce(f.completion, -1)) > 1e-9
           OR abs(coalesce(m.confirmation_rate, -1) - coalesce(f.confirmation, -1)) > 1e-9
           OR abs(m.signal_density - f.density) > 1e-9
           OR m.dropped_off IS DISTINCT FROM f.dropped OR m.drop_off_step IS DISTINCT FROM f.step`)
    ).rows[0].n;
    console.log(
      JSON.stringify(
        {
          postgres: (await db.query(`SHOW server_version`)).rows[0].server_version,
          sessions: N,
          events,
          batchSize: config.sessionMetrics.batchSize,
          concurrency: config.sessionMetrics.concurrency,
          pipelineSeconds: +pipelineS.toFixed(2),
          sessionsPerSecond: Math.round(N / pipelineS),
          floorSeconds: +floorS.toFixed(2),
          ratioToFloor: +(pipelineS / floorS).toFixed(2),
          mismatchesWithFloor: mismatches,
        },
        null,
        2,
      ),
    );
  } finally {
    await db.end();
    await app.close();
    await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
    await admin.end();
    await server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
