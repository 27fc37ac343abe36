import pg from 'pg';
import { FixedClock } from '../../src/common/clock/clock.js';
import { aggregate, ingest, pageview } from '../factories/events.js';
import { computeMetrics } from '../factories/metrics.js';
import { breakKpiEventWrites, completeStep, repairKpiEventWrites, runJob } from '../factories/onboarding.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { createSession } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The incremental compute reads only the source keys the writers logged (metrics_source_change,
 * filled by triggers in each writer's transaction): every real writer path is seen, the log is
 * consumed, and a change committed after a compute's snapshot is left for the next run.
 */
describe('metrics compute: the source change log', () => {
  const clock = new FixedClock(new Date('2026-04-10T12:00:00Z'));
  let t: TestApp;
  let shop: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    shop = await createProject(t);
  });
  afterAll(() => t.close());

  const dayValue = async (metricKey: string, day: string) =>
    (
      await t.request({
        url: `/v1/projects/${shop.id}/metrics/${metricKey}/trend?grain=day&from=${day}T00:00:00Z&to=${day}T23:59:59Z`,
        key: shop.keys.read,
      })
    ).body.points[0].value;
  const logged = async () => (await t.sql(`SELECT count(*)::int AS n FROM metrics_source_change`))[0].n as number;

  it('sees sessions written by the aggregation, and consumes the log', async () => {
    await ingest(t, shop, [pageview('agg', '/', '2026-04-02T10:00:00Z'), pageview('agg', '/x', '2026-04-02T10:05:00Z')]);
    await aggregate(t);
    expect(await logged()).toBeGreaterThan(0);
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1 });
    expect(await logged()).toBe(0);
    expect(await dayValue('sessions', '2026-04-02')).toBe(1);
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 0, buckets: 0 });
  });

  it('sees session metrics written by the metrics pipeline', async () => {
    const id = await createSession(t, shop.id, {
      base: new Date('2026-04-03T09:00:00Z'),
      events: [
        { type: 'pageview', at: 0, url: 'https://shop.test/' },
        { type: 'draft_created', at: 60 },
        { type: 'draft_confirmed', at: 120 },
        { type: 'session_end', at: 180 },
      ],
    });
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1 });
    expect(await dayValue('time_to_first_draft_ms_p50', '2026-04-03')).toBeNull();
    const res = await t.request({ method: 'POST', url: `/v1/projects/${shop.id}/sessions/${id}/metrics/recompute`, key: shop.keys.admin });
    expect(res.status).toBe(200);
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1 });
    expect(await dayValue('time_to_first_draft_ms_p50', '2026-04-03')).toBe(60_000);
    // recomputing to the same values writes the row again, but nothing the read model reads changed
    await t.request({ method: 'POST', url: `/v1/projects/${shop.id}/sessions/${id}/metrics/recompute`, key: shop.keys.admin });
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 0, buckets: 0 });
  });

  it('sees KPI events recorded by a step completion and by the retry of a failed write', async () => {
    expect((await completeStep(t, shop, 'u-1', 1)).body.kpiEvent.status).toBe('recorded');
    expect(await computeMetrics(t)).toMatchObject({ kpiEventsChanged: 1 });
    expect(await dayValue('kpi.onboarding.step_1_completed', '2026-04-10')).toBe(1);

    await breakKpiEventWrites(t);
    expect((await completeStep(t, shop, 'u-2', 1)).body.kpiEvent.status).toBe('failed');
    await repairKpiEventWrites(t);
    expect(await computeMetrics(t)).toMatchObject({ kpiEventsChanged: 0 });
    expect((await runJob(t, 'kpi-event-retry')).body.counts).toMatchObject({ recorded: 1 });
    expect(await computeMetrics(t)).toMatchObject({ kpiEventsChanged: 1 });
    expect(await dayValue('kpi.onboarding.step_1_completed', '2026-04-10')).toBe(2);
  });

  it('leaves a change committed after the compute started to the next run', async () => {
    const writer = new pg.Client({ connectionString: t.database.url });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(
        `INSERT INTO sessions (project_id, session_id, status, started_at, ended_at, completed_at, duration_seconds, page_count, event_count,
                               entry_page, exit_page, journey_path, bounced, converted, aggregated_at)
         VALUES ($1, 'late-commit', 'completed', '2026-04-04T08:00:00Z', '2026-04-04T08:00:00Z', '2026-04-04T08:30:00Z', NULL, 1, 1,
                 '/', '/', '{/}', true, false, now())`,
        [shop.id],
      );
      // the writer has not committed: its session and its log row are invisible to this run
      expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 0 });
      await writer.query('COMMIT');
    } finally {
      await writer.end();
    }
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1 });
    expect(await dayValue('sessions', '2026-04-04')).toBe(1);
  });

  it('sees a truncated source table: every row it counted is gone', async () => {
    await t.sql(`TRUNCATE kpi_events`);
    expect(await computeMetrics(t)).toMatchObject({ kpiEventsChanged: 2 });
    expect(await dayValue('kpi.onboarding.step_1_completed', '2026-04-10')).toBe(0);
    expect(await computeMetrics(t)).toMatchObject({ kpiEventsChanged: 0, buckets: 0 });
  });
  it('logs an update only where a counted column changed, with the instant that bucketed the row before', async () => {
    await computeMetrics(t);
    await t.sql(`UPDATE sessions SET aggregated_at = aggregated_at + interval '1 second' WHERE project_id = $1`, [shop.id]);
    expect(await logged()).toBe(0);
    await t.sql(`UPDATE sessions SET exit_page = '/elsewhere' WHERE project_id = $1 AND session_id = 'late-commit'`, [shop.id]);
    expect(await t.sql(`SELECT source, entity_key, old_at FROM metrics_source_change`)).toEqual([
      { source: 'session', entity_key: 'late-commit', old_at: new Date('2026-04-04T08:00:00Z') },
    ]);
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1 });
    expect(await dayValue('sessions', '2026-04-04')).toBe(1);
  });

  it('recomputes the old bucket of a session whose start moved, and of a KPI event moved in time', async () => {
    await completeStep(t, shop, 'u-3', 1);
    await completeStep(t, shop, 'u-4', 1);
    await computeMetrics(t);
    expect(await dayValue('kpi.onboarding.step_1_completed', '2026-04-10')).toBe(2);
    await t.sql(`UPDATE sessions SET started_at = '2026-04-05T08:00:00Z' WHERE project_id = $1 AND session_id = 'late-commit'`, [shop.id]);
    await t.sql(`UPDATE kpi_events SET occurred_at = occurred_at - interval '2 days' WHERE project_id = $1`, [shop.id]);
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1, kpiEventsChanged: 2 });
    expect(await dayValue('sessions', '2026-04-04')).toBe(0);
    expect(await dayValue('sessions', '2026-04-05')).toBe(1);
    expect(await dayValue('kpi.onboarding.step_1_completed', '2026-04-10')).toBe(0);
    expect(await dayValue('kpi.onboarding.step_1_completed', '2026-04-08')).toBe(2);
  });

  it('takes an update of the key of a row (a hand edit) as the old key gone and the new one new', async () => {
    await t.sql(
      `UPDATE sessions SET session_id = 'renamed', started_at = '2026-04-06T08:00:00Z' WHERE project_id = $1 AND session_id = 'late-commit'`,
      [shop.id],
    );
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 2 });
    expect(await dayValue('sessions', '2026-04-05')).toBe(0);
    expect(await dayValue('sessions', '2026-04-06')).toBe(1);
  });

  it('rebuilds in full by itself when the catalogue or the counted columns changed since its last full rebuild', async () => {
    expect(await computeMetrics(t)).toMatchObject({ full: false });
    // As after a release that counts what the previous one did not: its rows hold nothing of it,
    // and no writer will log those source rows again.
    await t.sql(`DELETE FROM metrics_trend_point WHERE project_id = $1`, [shop.id]);
    await t.sql(`UPDATE metrics_compute_state SET definition = 'an earlier release'`);
    expect(await computeMetrics(t)).toMatchObject({ full: true });
    const [{ n }] = await t.sql(
      `SELECT count(*)::int AS n FROM sessions WHERE project_id = $1 AND started_at >= '2026-04-02T00:00:00Z' AND started_at < '2026-04-03T00:00:00Z'`,
      [shop.id],
    );
    expect(n).toBeGreaterThan(0);
    expect(await dayValue('sessions', '2026-04-02')).toBe(n);
    expect(await computeMetrics(t)).toMatchObject({ full: false, sessionsChanged: 0, buckets: 0 });
  });
});
