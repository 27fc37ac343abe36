/**
 * bench:aggregation — loads N sessions (~10 events each) straight into tracking_events, runs the
 * session aggregation (the first run: a full pass), and compares it with the floor: one
 * hand-written GROUP BY over the same events into a scratch table. Then loads N/10 new sessions
 * and a late event for every 100th aggregated one, and times the next (incremental) run against
 * the same GROUP BY over the events of the sessions it has to rebuild.
 * `BENCH_SESSIONS=10000 npm run bench:aggregation`; SESSION_AGGREGATION_BATCH (default 5000 here) and
 * SESSION_AGGREGATION_WORKERS (default the service's) are passed on.
 */
import { loadavg } from 'node:os';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { SessionAggregationService } from '../src/sessions/session-aggregation.service.js';
import { startBenchApp } from './support.js';

const sizes = (process.env.BENCH_SESSIONS ?? '10000,100000').split(',').map(Number);

async function main(): Promise<void> {
  const bench = await startBenchApp({
    SESSION_AGGREGATION_BATCH: process.env.SESSION_AGGREGATION_BATCH ?? '5000',
    ...(process.env.SESSION_AGGREGATION_WORKERS ? { SESSION_AGGREGATION_WORKERS: process.env.SESSION_AGGREGATION_WORKERS } : {}),
  });
  const db = bench.app.get<DataSource>(getDataSourceToken());
  const aggregation = bench.app.get(SessionAggregationService);
  try {
    for (const n of sizes) {
      await db.query(`TRUNCATE tracking_events, sessions, session_rebuild_queue`);
      await db.query(`UPDATE session_aggregation_state SET snapshot = NULL`);
      const [project] = await db.query(`INSERT INTO projects (name) VALUES ('bench') RETURNING id`);
      const loadStart = Date.now();
      await loadSessions(db, project.id, 1, n);
      // Vacuumed as well as analysed: otherwise autovacuum starts on the freshly loaded events in the
      // middle of the timed runs, on the other core, and the first reader sets every hint bit.
      await db.query(`VACUUM ANALYZE tracking_events`);
      const [{ events }] = await db.query(`SELECT count(*)::int AS events FROM tracking_events`);
      const loadSeconds = (Date.now() - loadStart) / 1000;

      const floorSeconds = await floor(db, 'TRUE');

      global.gc?.();
      const rssBefore = process.memoryUsage().rss;
      let peakRss = rssBefore;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
      const start = Date.now();
      const counts = await aggregation.run();
      const seconds = (Date.now() - start) / 1000;
      clearInterval(sampler);
      console.log(
        JSON.stringify({
          phase: 'first run',
          sessions: n,
          events,
          loadSeconds,
          aggregationSeconds: seconds,
          sessionsPerSecond: Math.round(n / seconds),
          floorSeconds,
          ratioToFloor: Number((seconds / floorSeconds).toFixed(2)),
          peakRssMb: Math.round(peakRss / 1048576),
          rssGrowthMb: Math.round((peakRss - rssBefore) / 1048576),
          loadAverage: loadavg().map((x) => Number(x.toFixed(2))),
          counts,
        }),
      );

      // Then a later run: n/10 new sessions, and a late event for every 100th session already aggregated.
      const added = Math.max(1, Math.round(n / 10));
      const [{ loadedUpTo }] = await db.query(`SELECT max(ingest_xid)::text AS "loadedUpTo" FROM tracking_events`);
      await loadSessions(db, project.id, n + 1, added);
      await db.query(
        `INSERT INTO tracking_events (project_id, event_id, session_id, type, url, path, occurred_at, received_at)
         SELECT $1, gen_random_uuid(), 's' || s, 'pageview', '/late', '/late', now() - interval '3 days' + (s % 4000) * interval '1 minute', now()
         FROM generate_series(100, $2::int, 100) s`,
        [project.id, n],
      );
      await db.query(`VACUUM ANALYZE tracking_events`);
      // The touched sessions found through the ingest_xid index, as the collect finds them.
      const touched = `(project_id, session_id) IN (SELECT project_id, session_id FROM tracking_events WHERE ingest_xid > $1::xid8)`;
      const incrementalFloorSeconds = await floor(db, touched, [loadedUpTo]);
      const incrementalStart = Date.now();
      const incremental = await aggregation.run();
      const incrementalSeconds = (Date.now() - incrementalStart) / 1000;
      console.log(
        JSON.stringify({
          phase: 'incremental',
          newSessions: added,
          sessionsWithLateEvents: Math.floor(n / 100),
          aggregationSeconds: incrementalSeconds,
          floorSeconds: incrementalFloorSeconds,
          ratioToFloor: Number((incrementalSeconds / incrementalFloorSeconds).toFixed(2)),
          loadAverage: loadavg().map((x) => Number(x.toFixed(2))),
          counts: incremental,
        }),
      );
    }
  } finally {
    await bench.close();
  }
}

/** Sessions `first`… of 6–14 events over the last 3 days, mostly pageviews over a shop's pages. */
async function loadSessions(db: DataSource, projectId: string, first: number, count: number): Promise<void> {
  await db.query(
    `INSERT INTO tracking_events (project_id, event_id, session_id, type, url, path, occurred_at, received_at)
     SELECT $1, gen_random_uuid(), 's' || s,
            CASE WHEN e = 1 THEN 'session_start' WHEN random() < 0.08 THEN 'conversion' WHEN random() < 0.1 THEN 'signal' ELSE 'pageview' END,
            p.path, p.path,
            now() - interval '3 days' + (s % 4000) * interval '1 minute' + e * interval '20 seconds',
            now()
     FROM generate_series($2::int, $3::int) s
     CROSS JOIN LATERAL generate_series(1, 6 + (s % 9)) e
     CROSS JOIN LATERAL (SELECT (ARRAY['/', '/category/shoes', '/product/' || (s % 50), '/cart', '/checkout', '/search'])[1 + ((s + e) % 6)] AS path) p`,
    [projectId, first, first + count - 1],
  );
}

/**
 * The floor: the same session row the aggregation writes (spec §3 fields), in one hand-written
 * GROUP BY over the events `where` selects, into a scratch table. Returns its seconds. Both arrays
 * are ordered alike, so PostgreSQL 16+ reads the groups presorted in index order, as for the
 * aggregation (a DESC order for the last user id made PostgreSQL 18 sort every event: 1.7 s
 * instead of 0.9 s for 1M events).
 */
async function floor(db: DataSource, where: string, params: unknown[] = []): Promise<number> {
  const start = Date.now();
  await db.query(`DROP TABLE IF EXISTS bench_floor`);
  await db.query(
    `CREATE UNLOGGED TABLE bench_floor AS
     SELECT g.*, g.user_ids[cardinality(g.user_ids)] AS user_id, g.journey_path[1] AS entry_page, g.journey_path[cardinality(g.journey_path)] AS exit_page,
            g.page_count = 1 AS bounced,
            CASE WHEN g.event_count > 1 THEN extract(epoch FROM g.ended_at - g.started_at) END AS duration_seconds,
            CASE WHEN g.ended_by_event_at IS NOT NULL OR g.ended_at < now() - interval '30 minutes' THEN 'completed' ELSE 'active' END AS status,
            coalesce(g.ended_by_event_at, g.ended_at + interval '30 minutes') AS completed_at
     FROM (
       SELECT project_id, session_id,
              array_agg(user_id ORDER BY occurred_at, seq) FILTER (WHERE user_id IS NOT NULL) AS user_ids,
              min(occurred_at) AS started_at, max(occurred_at) AS ended_at, count(*) AS event_count,
              count(*) FILTER (WHERE type = 'pageview') AS page_count,
              coalesce(array_agg(path ORDER BY occurred_at, seq) FILTER (WHERE type = 'pageview'), '{}') AS journey_path,
              bool_or(type = 'conversion') AS converted,
              min(occurred_at) FILTER (WHERE type = 'session_end') AS ended_by_event_at
       FROM tracking_events WHERE ${where} GROUP BY project_id, session_id
     ) g`,
    params,
  );
  return (Date.now() - start) / 1000;
}

void main();
