import { FixedClock } from '../../src/common/clock/clock.js';
import { computeMetrics, insertSessionMetrics } from '../factories/metrics.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/wait.js';

/**
 * An incremental run rewrites the drilldown rows of the changed entities only: the other rows of an
 * affected day stay as they are (not even re-stamped), a row whose entity left the kept 30 days or
 * moved to another metric goes, and an affected day older than the cutoff is emptied as a recompute
 * of that day would. Expectations by hand (clock 2026-04-10 12:00 UTC, cutoff 30 days before it).
 */
describe('metrics compute: incremental drilldown', () => {
  const clock = new FixedClock(new Date('2026-04-10T12:00:00Z'));
  let t: TestApp;
  let shop: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    shop = await createProject(t);
  });
  afterAll(() => t.close());

  const putSession = (id: string, startedAt: string, pages: number) =>
    t.sql(
      `INSERT INTO sessions (project_id, session_id, status, started_at, ended_at, completed_at, duration_seconds, page_count, event_count,
                             entry_page, exit_page, journey_path, bounced, converted, aggregated_at)
       VALUES ($1, $2, 'completed', $3, $3, $3, 10, $4, $4 + 1, '/', '/', '{}', $4 = 1, false, now())
       ON CONFLICT (project_id, session_id) DO UPDATE SET started_at = excluded.started_at, page_count = excluded.page_count`,
      [shop.id, id, startedAt, pages],
    );
  const sessionRows = async () =>
    (await t.sql(
      `SELECT reference_id AS id, time_bucket AS bucket, (payload->>'pageCount')::int AS pages, computed_at AS "computedAt"
       FROM metrics_drilldown WHERE project_id = $1 AND entity_type = 'session' ORDER BY reference_id`,
      [shop.id],
    )) as { id: string; bucket: Date; pages: number; computedAt: Date }[];
  const trend = () =>
    t.sql(`SELECT metric_key, time_grain, time_bucket, value_numeric FROM metrics_trend_point WHERE project_id = $1 ORDER BY 1, 2, 3`, [shop.id]);
  /** How many change-log rows name session `id`. */
  const logged = async (id: string) =>
    (
      (await t.sql(`SELECT count(*)::int AS n FROM metrics_source_change WHERE project_id = $1 AND entity_key = $2`, [shop.id, id])) as {
        n: number;
      }[]
    )[0].n;

  it('rewrites only the changed session of an affected day, and drops the row of a session moved before the cutoff', async () => {
    await putSession('a', '2026-04-05T09:00:00Z', 1);
    await putSession('b', '2026-04-05T10:00:00Z', 2);
    expect(await computeMetrics(t)).toMatchObject({ drilldownRowsUpserted: 2 });
    const [, b] = await sessionRows();

    clock.set('2026-04-10T13:00:00Z');
    await putSession('a', '2026-04-05T09:00:00Z', 3);
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1, drilldownRowsUpserted: 1, drilldownRowsDeleted: 0 });
    const rows = await sessionRows();
    expect(rows.map((r) => [r.id, r.pages])).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
    expect(rows[0].computedAt).toEqual(new Date('2026-04-10T13:00:00Z'));
    expect(rows[1].computedAt).toEqual(b.computedAt);

    // 03-01 is before the cutoff (03-11 13:00): no drilldown row for it
    await putSession('a', '2026-03-01T09:00:00Z', 3);
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1, drilldownRowsUpserted: 0, drilldownRowsDeleted: 1 });
    expect((await sessionRows()).map((r) => r.id)).toEqual(['b']);

    // back into the kept days: the row comes back in its new bucket
    await putSession('a', '2026-04-06T09:00:00Z', 3);
    expect(await computeMetrics(t)).toMatchObject({ drilldownRowsUpserted: 1, drilldownRowsDeleted: 0 });
    expect((await sessionRows()).map((r) => [r.id, r.bucket])).toEqual([
      ['a', new Date('2026-04-06T00:00:00Z')],
      ['b', new Date('2026-04-05T00:00:00Z')],
    ]);
  });

  it('moves a KPI event whose KPI changed to the other metric', async () => {
    const [event] = await t.sql(
      `INSERT INTO kpi_events (project_id, id, kpi_id, user_id, occurred_at, metadata, recorded_at)
       VALUES ($1, gen_random_uuid(), 'kpi.onboarding.step_1_completed', 'u', '2026-04-07T08:00:00Z', '{"step": 1, "source": "api"}', now())
       RETURNING id`,
      [shop.id],
    );
    expect(await computeMetrics(t)).toMatchObject({ kpiEventsChanged: 1, drilldownRowsUpserted: 1 });
    await t.sql(`UPDATE kpi_events SET kpi_id = 'kpi.onboarding.step_2_completed' WHERE id = $1`, [event.id]);
    expect(await computeMetrics(t)).toMatchObject({ kpiEventsChanged: 1, drilldownRowsUpserted: 1, drilldownRowsDeleted: 1 });
    expect(
      await t.sql(
        `SELECT metric_key AS "metricKey", entity_id AS "entityId" FROM metrics_drilldown WHERE project_id = $1 AND entity_type = 'kpi_event'`,
        [shop.id],
      ),
    ).toEqual([{ metricKey: 'kpi.onboarding.step_2_completed', entityId: event.id }]);
  });

  it("drops a session's drop-off from its row while a late event has made it active again", async () => {
    await putSession('e', '2026-04-08T09:00:00Z', 2);
    await insertSessionMetrics(t, shop.id, 'e', { signalDensity: 1, dropOffStep: 'payment' });
    await computeMetrics(t);
    const payload = async () =>
      (await t.sql(`SELECT payload FROM metrics_drilldown WHERE project_id = $1 AND reference_id = 'e'`, [shop.id]))[0].payload;
    expect(await payload()).toMatchObject({ status: 'completed', hasMetrics: true, droppedOff: true, dropOffStep: 'payment' });
    await t.sql(`UPDATE sessions SET status = 'active', completed_at = NULL WHERE project_id = $1 AND session_id = 'e'`, [shop.id]);
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1, drilldownRowsUpserted: 1 });
    expect(await payload()).toMatchObject({ status: 'active', hasMetrics: false, droppedOff: null, dropOffStep: null });
  });

  it('empties an affected day older than the cutoff that the retention has not reached yet', async () => {
    await putSession('c', '2026-03-20T09:00:00Z', 1);
    expect(await computeMetrics(t)).toMatchObject({ drilldownRowsUpserted: 1 });
    // 15 days later the cutoff is 03-26 13:00: the 03-20 row is past it, but no retention ran
    clock.set('2026-04-25T13:00:00Z');
    await putSession('d', '2026-03-20T10:00:00Z', 1);
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1, drilldownRowsUpserted: 0, drilldownRowsDeleted: 1 });
    expect((await sessionRows()).map((r) => r.id)).toEqual(['a', 'b', 'e']);
  });

  it('fails as a whole when its drilldown, written alongside, cannot be: the trend, the drilldown and the change log stay as they were', async () => {
    const trendBefore = await trend();
    const rowsBefore = await sessionRows();
    // 'a' gets a page more: its drilldown row is rewritten, while another transaction holds it
    await putSession('a', '2026-04-08T09:00:00Z', 4);
    await t.inRolledBackTransaction(async (holder) => {
      await holder.query(`SELECT 1 FROM metrics_drilldown WHERE project_id = $1 AND reference_id = 'a' FOR UPDATE`, [shop.id]);
      const res = await t.request({ method: 'POST', url: '/v1/jobs/metrics-compute/runs?wait=true', body: {} });
      expect(res.body).toMatchObject({ status: 'failed', error: expect.stringContaining('lock timeout') });
    });
    expect(await trend()).toEqual(trendBefore);
    expect(await sessionRows()).toEqual(rowsBefore);
    // the change was not consumed: the next run counts it, in both
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1, drilldownRowsUpserted: 1 });
    expect((await sessionRows()).find((r) => r.id === 'a')?.pages).toBe(4);
  }, 20_000);

  it('leaves the log row of a change committed during the run for the next run, though the run consumes the log after it', async () => {
    await putSession('a', '2026-04-08T09:00:00Z', 6);
    // the gate holds the drilldown row of 'a': the run's second transaction waits there, before it consumes the log
    const { run } = await t.inRolledBackTransaction(async (gate) => {
      await gate.query(`SELECT 1 FROM metrics_drilldown WHERE project_id = $1 AND reference_id = 'a' FOR UPDATE`, [shop.id]);
      const started = t.request({ method: 'POST', url: '/v1/jobs/metrics-compute/runs?wait=true', body: {} });
      const waiting = await until(
        () =>
          t.sql(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO metrics_drilldown%'`,
          ),
        (rows) => rows.length > 0,
        5_000,
      );
      expect(waiting.length).toBeGreaterThan(0);
      // committed after the run's snapshot, before its second transaction deletes the log rows
      await putSession('z', '2026-04-08T10:00:00Z', 2);
      expect(await logged('z')).toBe(1);
      // wrapped: awaited here, the run would wait for the gate this transaction holds
      return { run: started };
    });
    expect((await run).body).toMatchObject({ status: 'succeeded', counts: expect.objectContaining({ sessionsChanged: 1 }) });
    expect(await logged('a')).toBe(0);
    expect(await logged('z')).toBe(1);
    expect((await sessionRows()).map((r) => r.id)).not.toContain('z');
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1, drilldownRowsUpserted: 1 });
    expect((await sessionRows()).find((r) => r.id === 'z')?.pages).toBe(2);
    expect(await logged('z')).toBe(0);
  }, 20_000);

  it('keeps the change log when the drilldown transaction fails at its commit, after the rest committed: the next run brings the drilldown up', async () => {
    const trendBefore = await trend();
    // a deferred constraint trigger that refuses the commit of any transaction that wrote a drilldown row
    await t.sql(`CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'commit refused'; END $$`);
    await t.sql(
      `CREATE CONSTRAINT TRIGGER refuse AFTER INSERT OR UPDATE ON metrics_drilldown INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()`,
    );
    try {
      await putSession('a', '2026-04-08T09:00:00Z', 5);
      const res = await t.request({ method: 'POST', url: '/v1/jobs/metrics-compute/runs?wait=true', body: {} });
      // the failure says what did commit
      expect(res.body).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/first transaction committed, the second failed to commit: commit refused/),
      });
    } finally {
      await t.sql(`DROP TRIGGER refuse ON metrics_drilldown`);
      await t.sql(`DROP FUNCTION refuse_commit()`);
    }
    // the first transaction committed (the trend counts 5 pages), the second did not: the old row, and the log rows of 'a' are still there
    const trendAfterFailure = await trend();
    expect(trendAfterFailure).not.toEqual(trendBefore);
    expect((await sessionRows()).find((r) => r.id === 'a')?.pages).toBe(6);
    expect(await logged('a')).toBeGreaterThan(0);
    // the next run counts the change again: the same trend, the drilldown rewritten, the log consumed
    expect(await computeMetrics(t)).toMatchObject({ sessionsChanged: 1, drilldownRowsUpserted: 1 });
    expect(await trend()).toEqual(trendAfterFailure);
    expect((await sessionRows()).find((r) => r.id === 'a')?.pages).toBe(5);
    expect(await logged('a')).toBe(0);
  }, 20_000);
});
