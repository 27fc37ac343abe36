import pg from 'pg';
import { SessionMetricsProcessor } from '../../src/session-metrics/session-metrics.processor.js';
import { SessionMetricsService } from '../../src/session-metrics/session-metrics.service.js';
import { createProject } from '../factories/projects.js';
import { createDraftingSessions } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { sleep, until } from '../support/wait.js';

const metricsRows = async (t: TestApp) => (await t.sql(`SELECT count(*)::int AS n FROM session_metrics`))[0].n as number;

/** Every session: one metrics row, complete, and exactly one succeeded pipeline run. */
async function expectExactlyOnce(t: TestApp, ids: string[]): Promise<void> {
  const rows = await t.sql(
    `SELECT count(*)::int AS sessions,
            count(m.session_id)::int AS with_metrics,
            count(*) FILTER (WHERE m.signal_density IS NULL OR m.time_to_first_draft_ms IS NULL OR m.confirmation_rate IS NULL)::int AS half_rows,
            count(*) FILTER (WHERE (SELECT count(*) FROM pipeline_runs r WHERE r.session_id = s.session_id AND r.status = 'succeeded') <> 1)::int AS not_once
     FROM sessions s LEFT JOIN session_metrics m ON m.project_id = s.project_id AND m.session_id = s.session_id
     WHERE s.session_id = ANY($1)`,
    [ids],
  );
  expect(rows[0]).toEqual({ sessions: ids.length, with_metrics: ids.length, half_rows: 0, not_once: 0 });
  expect(await metricsRows(t)).toBe(ids.length);
}

describe('session metrics pipeline reliability', () => {
  it('gives every completed session its metrics exactly once when the worker stops mid-batch and restarts', async () => {
    const env = { JOBS_ENABLED: 'true', SESSION_METRICS_BATCH_SIZE: '10', SESSION_METRICS_CONCURRENCY: '1' };
    const first = await startTestApp({ env });
    const project = await createProject(first);
    const ids = await createDraftingSessions(first, project.id, 300);
    // Slow each batch's write down so the stop lands while batches are in hand.
    await first.sql(`CREATE FUNCTION slow_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.1); RETURN NULL; END $$`);
    await first.sql(`CREATE TRIGGER slow_write BEFORE INSERT ON session_metrics FOR EACH STATEMENT EXECUTE FUNCTION slow_write()`);
    await first.get(SessionMetricsService).enqueueCompleted(project.id, ids);
    const partial = await until(
      () => metricsRows(first),
      (n) => n >= 30,
    );
    await first.close({ keepDatabase: true });
    const probe = await startTestApp({ database: first.database });
    const afterStop = await metricsRows(probe);
    await probe.close();
    expect(partial).toBeLessThan(300);
    expect(afterStop % 10).toBe(0); // whole batches only

    const second = await startTestApp({ env, database: first.database });
    try {
      await second.sql(`DROP TRIGGER slow_write ON session_metrics`);
      await until(
        () => metricsRows(second),
        (n) => n === 300,
      );
      await sleep(500);
      await expectExactlyOnce(second, ids);
    } finally {
      await second.close();
      await first.database.drop();
    }
  }, 120_000);

  it('skips a session another worker stored while this one waited for its lock, and records no run for it', async () => {
    const t = await startTestApp();
    const other = new pg.Client({ connectionString: t.database.url });
    await other.connect();
    try {
      const project = await createProject(t);
      const [id] = await createDraftingSessions(t, project.id, 1);
      // The other worker holds the session's lock, as the pipeline does.
      await other.query('BEGIN');
      await other.query(`SELECT 1 FROM sessions WHERE project_id = $1 AND session_id = $2 FOR NO KEY UPDATE`, [project.id, id]);
      const waiting = t.get(SessionMetricsProcessor).process({ projectId: project.id, sessionIds: [id], attempt: 1, jobId: 'job-b', force: false });
      await until(
        () => t.sql(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR NO KEY UPDATE OF s%'`),
        (rows) => rows[0].n === 1,
      );
      // ...stores its metrics (marked by a signal density no formula gives here) and commits.
      await other.query(
        `INSERT INTO session_metrics (project_id, session_id, time_to_first_draft_ms, completion_rate, confirmation_rate, signal_density,
                                      dropped_off, drop_off_step, session_aggregated_at, computed_at)
         SELECT project_id, session_id, 1, 1, 1, 42, false, NULL, aggregated_at, now() FROM sessions WHERE project_id = $1 AND session_id = $2`,
        [project.id, id],
      );
      await other.query('COMMIT');

      const result = await waiting;
      expect(result.skipped).toEqual([id]);
      expect(result.stored.size).toBe(0);
      expect(await t.sql(`SELECT signal_density FROM session_metrics WHERE session_id = $1`, [id])).toEqual([{ signal_density: 42 }]);
      expect(await t.sql(`SELECT count(*)::int AS n FROM pipeline_runs WHERE session_id = $1`, [id])).toEqual([{ n: 0 }]);
    } finally {
      await other.end();
      await t.close();
    }
  });

  it('processes each session once with two instances consuming the queue, even when handed on twice', async () => {
    const env = { JOBS_ENABLED: 'true', SESSION_METRICS_BATCH_SIZE: '7' };
    const a = await startTestApp({ env });
    const b = await startTestApp({ env, database: a.database });
    try {
      const project = await createProject(a);
      const ids = await createDraftingSessions(a, project.id, 400);
      // Both instances hand on the same sessions (the aggregation on one, a sweep on the other).
      await Promise.all([
        a.get(SessionMetricsService).enqueueCompleted(project.id, ids),
        b.get(SessionMetricsService).enqueueCompleted(project.id, [...ids].reverse()),
      ]);
      await until(
        () => a.sql(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'session-metrics' AND state <> 'completed'`),
        (rows) => rows[0].n === 0,
      );
      await expectExactlyOnce(a, ids);
      const failed = await a.sql(`SELECT count(*)::int AS n FROM pipeline_runs WHERE status = 'failed'`);
      expect(failed[0].n).toBe(0);
    } finally {
      await b.close();
      await a.close();
    }
  }, 120_000);
});
