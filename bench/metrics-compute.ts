/**
 * bench:metrics-compute — N sessions over 90 days with their session metrics and N/10 KPI events,
 * loaded straight into a fresh database; times a full rebuild of the metrics read model
 * (`metrics-compute` with full), then an incremental run after 1% new sessions (in the last day),
 * and compares the full rebuild with a floor measured in the same run: one hand-written GROUP BY per
 * source over the same rows (all four grains via GROUPING SETS, same aggregates, fully evaluated).
 * Each timed phase starts after a CHECKPOINT, so none pays for writing out the pages of the one before.
 *
 * On the shared 2-core machine one run's figures moved by ±20% within minutes, so each is measured
 * BENCH_REPEAT times (default 3) and every figure is printed with the median: the floor and the full
 * rebuild alternately, each ratio against the floor measured just before it (the first rebuild also
 * consumes the 2.1 million change-log rows the load wrote, alongside; the others find the log empty); then the incremental
 * run, each time on the same workload (the 1% new sessions are added, the run timed, then they are
 * deleted again and an untimed run takes them out of the read model).
 *
 *   npm run bench:metrics-compute -- [N]      (default 1000000; BENCH_DATABASE_URL or embedded PostgreSQL)
 *   BENCH_REPEAT=3
 */
import 'reflect-metadata';
import pg from 'pg';
import { exactSumSql } from '../src/common/database/measures.js';
import { MetricsComputeService } from '../src/metrics/metrics-compute.service.js';
import { startBenchApp } from './support.js';

const N = Number(process.argv[2] ?? 1_000_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
if (!Number.isInteger(REPEAT) || REPEAT < 1) throw new Error(`BENCH_REPEAT must be a whole number ≥ 1, not ${process.env.BENCH_REPEAT}`);
const DAYS = 90;
/** The data ends at the start of today (UTC), so the last 30 days get drilldown rows too. */
const END = Math.floor(Date.now() / 86_400_000) * 86_400_000;

const LOAD_SESSIONS = `
INSERT INTO sessions (project_id, session_id, status, started_at, ended_at, completed_at, duration_seconds, page_count, event_count,
                      entry_page, exit_page, journey_path, bounced, converted, aggregated_at)
SELECT $1, $5 || n, 'completed', t, t + (n % 600) * interval '1 second', t + (n % 600) * interval '1 second',
       CASE WHEN n % 7 = 0 THEN NULL ELSE (n % 600)::float8 END, n % 4, n % 4 + 1,
       CASE WHEN n % 4 > 0 THEN '/p/' || (n % 50) END, CASE WHEN n % 4 > 0 THEN '/q/' || (n % 40) END, '{}', n % 4 = 1, n % 9 = 0, now()
FROM generate_series($2::int, $3::int) n, LATERAL (SELECT $4::timestamptz + ((n::bigint * 7919) % ($6::bigint * 86400)) * interval '1 second' AS t) x`;

const LOAD_METRICS = `
INSERT INTO session_metrics (project_id, session_id, time_to_first_draft_ms, completion_rate, confirmation_rate, signal_density,
                             dropped_off, drop_off_step, session_aggregated_at, computed_at)
SELECT project_id, session_id, CASE WHEN page_count > 0 THEN page_count * 1000 + duration_seconds END, (page_count % 3) / 2.0,
       CASE WHEN page_count > 1 THEN 0.5 END, page_count, page_count = 3, CASE WHEN page_count = 3 THEN 'step-' || (event_count % 3) END,
       aggregated_at, now()
FROM sessions WHERE project_id = $1 AND session_id LIKE $2 || '%'`;

const LOAD_KPIS = `
INSERT INTO kpi_events (project_id, id, kpi_id, user_id, occurred_at, metadata, recorded_at)
SELECT $1, gen_random_uuid(), 'kpi.onboarding.step_' || (n % 5 + 1) || '_completed', 'u' || n,
       $3::timestamptz + ((n::bigint * 104729) % ($4::bigint * 86400)) * interval '1 second',
       jsonb_build_object('step', n % 5 + 1, 'source', CASE WHEN n % 3 = 0 THEN 'web' ELSE 'api' END), now()
FROM generate_series(1, $2::int) n`;

/**
 * Each floor statement counts its groups through a reference to the whole row (`q`): PostgreSQL
 * drops the outputs of a subquery that nothing reads, and with a bare count(*) it grouped the rows
 * without computing a single aggregate (EXPLAIN VERBOSE shows them as NULL constants). The sums are
 * the exact ones the read model stores (exactSumSql), as in the operational rollup's floor.
 */
const FLOOR = [
  `SELECT count(*) FROM (
   SELECT grouping(date_trunc('hour', s.started_at), date_trunc('day', s.started_at), date_trunc('week', s.started_at), date_trunc('month', s.started_at)) AS g,
          date_trunc('hour', s.started_at) h, date_trunc('day', s.started_at) d, date_trunc('week', s.started_at) w, date_trunc('month', s.started_at) m,
          count(*), count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE bounced), count(*) FILTER (WHERE page_count >= 1),
          count(*) FILTER (WHERE converted), count(duration_seconds), ${exactSumSql('duration_seconds')},
          percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds), sum(page_count)
   FROM sessions s WHERE project_id = $1
   GROUP BY GROUPING SETS ((date_trunc('hour', s.started_at)), (date_trunc('day', s.started_at)), (date_trunc('week', s.started_at)), (date_trunc('month', s.started_at)))) q WHERE q IS DISTINCT FROM NULL`,
  `SELECT count(*) FROM (
   SELECT date_trunc('hour', s.started_at) h, date_trunc('day', s.started_at) d, date_trunc('week', s.started_at) w, date_trunc('month', s.started_at) mo,
          count(*), count(m.time_to_first_draft_ms), sum(m.time_to_first_draft_ms),
          percentile_cont(0.5) WITHIN GROUP (ORDER BY m.time_to_first_draft_ms), percentile_cont(0.9) WITHIN GROUP (ORDER BY m.time_to_first_draft_ms),
          count(m.completion_rate), ${exactSumSql('m.completion_rate')}, count(m.confirmation_rate), ${exactSumSql('m.confirmation_rate')},
          count(m.signal_density), ${exactSumSql('m.signal_density')},
          count(*) FILTER (WHERE m.dropped_off)
   FROM session_metrics m JOIN sessions s USING (project_id, session_id) WHERE m.project_id = $1
   GROUP BY GROUPING SETS ((date_trunc('hour', s.started_at)), (date_trunc('day', s.started_at)), (date_trunc('week', s.started_at)), (date_trunc('month', s.started_at)))) q WHERE q IS DISTINCT FROM NULL`,
  `SELECT count(*) FROM (
   SELECT kpi_id, date_trunc('hour', occurred_at) h, date_trunc('day', occurred_at) d, date_trunc('week', occurred_at) w, date_trunc('month', occurred_at) m, count(*)
   FROM kpi_events WHERE project_id = $1
   GROUP BY kpi_id, GROUPING SETS ((date_trunc('hour', occurred_at)), (date_trunc('day', occurred_at)), (date_trunc('week', occurred_at)), (date_trunc('month', occurred_at)))) q WHERE q IS DISTINCT FROM NULL`,
];

/**
 * Writes out every dirty page now: the bulk load and the full rebuild each write gigabytes, and a
 * checkpoint they trigger (the server logged one every 25 s) would otherwise run through the next
 * timed phase. Needs a superuser or pg_checkpoint; without it the bench says so and goes on.
 */
async function checkpoint(db: pg.Client): Promise<void> {
  try {
    await db.query('CHECKPOINT');
  } catch (error) {
    console.warn(`CHECKPOINT refused (${(error as Error).message}): the timings below may include checkpoints of earlier writes`);
  }
}

async function main(): Promise<void> {
  const bench = await startBenchApp({ LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const db = new pg.Client({ connectionString: bench.url });
  await db.connect();
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 200);
  try {
    const project = (await db.query(`INSERT INTO projects (name) VALUES ('bench') RETURNING id`)).rows[0].id as string;
    const start = new Date(END - DAYS * 86_400_000);
    let t = performance.now();
    for (let from = 1; from <= N; from += 100_000) {
      await db.query(LOAD_SESSIONS, [project, from, Math.min(N, from + 99_999), start, 's', DAYS]);
    }
    await db.query(LOAD_METRICS, [project, 's']);
    await db.query(LOAD_KPIS, [project, Math.round(N / 10), start, DAYS]);
    await db.query(`ANALYZE sessions; ANALYZE session_metrics; ANALYZE kpi_events`);
    console.log(`loaded ${N} sessions with metrics and ${Math.round(N / 10)} KPI events in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const compute = bench.app.get(MetricsComputeService);
    const floors: number[] = [];
    const fulls: number[] = [];
    let full: Awaited<ReturnType<MetricsComputeService['run']>> = {};
    for (let i = 0; i < REPEAT; i++) {
      await checkpoint(db);
      t = performance.now();
      for (const statement of FLOOR) await db.query(statement, [project]);
      floors.push((performance.now() - t) / 1000);
      await checkpoint(db);
      t = performance.now();
      full = await compute.run({ full: true });
      fulls.push((performance.now() - t) / 1000);
    }

    // 1% new sessions during the last day, with their metrics; taken out again between repeats
    const extra = Math.round(N / 100);
    const incrementals: number[] = [];
    let incremental: Awaited<ReturnType<MetricsComputeService['run']>> = {};
    for (let i = 0; i < REPEAT; i++) {
      await db.query(LOAD_SESSIONS, [project, 1, extra, new Date(END - 86_400_000), 'late-', 1]);
      await db.query(LOAD_METRICS, [project, 'late-']);
      await checkpoint(db);
      t = performance.now();
      incremental = await compute.run({});
      incrementals.push((performance.now() - t) / 1000);
      if (i < REPEAT - 1) {
        await db.query(`DELETE FROM session_metrics WHERE project_id = $1 AND session_id LIKE 'late-%'`, [project]);
        await db.query(`DELETE FROM sessions WHERE project_id = $1 AND session_id LIKE 'late-%'`, [project]);
        await compute.run({});
      }
    }
    clearInterval(sampler);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const fullS = median(fulls);
    const seconds = (values: number[]) => values.map((v) => +v.toFixed(2));
    const ratios = fulls.map((f, i) => +(f / floors[i]).toFixed(2));
    const shares = incrementals.map((v) => +(v / fullS).toFixed(3));

    const rows = (
      await db.query(`SELECT (SELECT count(*) FROM metrics_trend_point)::int AS trend, (SELECT count(*) FROM metrics_breakdown_point)::int AS breakdown,
                                         (SELECT count(*) FROM metrics_drilldown)::int AS drilldown`)
    ).rows[0];
    console.log(
      JSON.stringify(
        {
          sessions: N,
          kpiEvents: Math.round(N / 10),
          days: DAYS,
          repeats: REPEAT,
          floorSeconds: seconds(floors),
          fullRebuildSeconds: seconds(fulls),
          fullRatioToFloor: ratios,
          fullRatioToFloorMedian: median(ratios),
          incrementalSessions: extra,
          incrementalSeconds: seconds(incrementals),
          incrementalShareOfFull: shares,
          incrementalShareOfFullMedian: median(shares),
          rssMinMb: Math.round(Math.min(...rss) / 1e6),
          rssMaxMb: Math.round(Math.max(...rss) / 1e6),
          tableRows: rows,
          fullCounts: full,
          incrementalCounts: incremental,
        },
        null,
        2,
      ),
    );
  } finally {
    clearInterval(sampler);
    await db.end();
    await bench.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
