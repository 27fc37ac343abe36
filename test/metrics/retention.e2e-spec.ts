import { FixedClock } from '../../src/common/clock/clock.js';
import { computeMetrics, insertKpiEvent, runMetricsRetention } from '../factories/metrics.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { createSession } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const DAY = 24 * 60 * 60 * 1000;
const page = (path: string, at: number) => ({ type: 'pageview', url: `https://shop.example${path}`, at });
/** A trend's points as [the part of the bucket's ISO text from `start` to `end`, grain, value]. */
const gradedPoints = (res: { body: { points: { bucket: string; grain: string; value: number }[] } }, start: number, end: number) =>
  res.body.points.map((p) => [p.bucket.slice(start, end), p.grain, p.value]);

describe('metrics retention', () => {
  // Sessions on Wednesday 2026-01-07 and Wednesday 2026-01-14 (UTC), computed on 01-15.
  const clock = new FixedClock(new Date('2026-01-15T00:00:00Z'));
  let t: TestApp;
  let shop: ProjectFixture;
  const count = async (sql: string) => (await t.sql(`SELECT count(*)::int AS n FROM ${sql}`, [shop.id]))[0].n as number;
  const get = (path: string) => t.request({ url: `/v1/projects/${shop.id}${path}`, key: shop.keys.read });

  beforeAll(async () => {
    t = await startTestApp({ clock });
    shop = await createProject(t);
    // 'old' lasts 60 s: its day keeps its duration among the day values
    await createSession(t, shop.id, { sessionId: 'old', base: new Date('2026-01-07T10:00:00Z'), events: [page('/', 0), page('/', 60)] });
    await createSession(t, shop.id, { sessionId: 'new', base: new Date('2026-01-14T10:00:00Z'), events: [page('/', 0)] });
    await insertKpiEvent(t, shop.id, { kpiId: 'kpi.onboarding.step_1_completed', occurredAt: '2026-01-14T09:00:00Z' });
    await computeMetrics(t);
    // summaries: three on 01-15 (00:00, 06:00, 23:00) and one on 01-16
    for (const at of ['2026-01-15T06:00:00Z', '2026-01-15T23:00:00Z', '2026-01-16T01:00:00Z']) {
      clock.set(at);
      await computeMetrics(t);
    }
  });
  afterAll(() => t.close());

  it('keeps everything while it is young', async () => {
    clock.set('2026-01-20T00:00:00Z');
    expect(await runMetricsRetention(t)).toEqual({
      summariesDeleted: 0,
      summariesThinned: 0,
      trendPointsDeleted: 0,
      dayValuesDeleted: 0,
      breakdownPointsDeleted: 0,
      drilldownRowsDeleted: 0,
    });
    expect(await count(`metrics_summary WHERE project_id = $1`)).toBe(4);
  });

  it('deletes drilldown rows after 30 days and keeps only the last summary of each day after 30 days', async () => {
    // 01-07 + 30 d = 02-06: the 01-07 drilldown row goes; 01-14's stays. Summaries of 01-15 are older than 30 d on 02-15.
    clock.set(new Date(Date.parse('2026-01-07T00:00:00Z') + 30 * DAY + 1));
    const first = await runMetricsRetention(t);
    expect(first.drilldownRowsDeleted).toBe(1);
    expect(await count(`metrics_drilldown WHERE project_id = $1`)).toBe(2); // session 'new' and the KPI event
    clock.set('2026-02-15T12:00:00Z');
    const second = await runMetricsRetention(t);
    // 01-15 had 00:00, 06:00, 23:00 → keep 23:00; 01-16 keeps its one
    expect(second.summariesThinned).toBe(2);
    const left = await t.sql(`SELECT captured_at FROM metrics_summary WHERE project_id = $1 ORDER BY captured_at`, [shop.id]);
    expect(left.map((r: { captured_at: Date }) => r.captured_at.toISOString())).toEqual(['2026-01-15T23:00:00.000Z', '2026-01-16T01:00:00.000Z']);
    expect(second.drilldownRowsDeleted).toBe(2);
  });

  it('drops hour and day points and breakdowns after 90 days, keeps week and month points, and answers the old part of a day trend in weeks', async () => {
    clock.set(new Date(Date.parse('2026-01-08T00:00:00Z') + 90 * DAY + 1));
    const counts = await runMetricsRetention(t);
    // the 01-07 day: hour + day points of the 7 session metrics (pages and durations included) went
    expect(counts.trendPointsDeleted).toBeGreaterThan(0);
    expect(counts.breakdownPointsDeleted).toBeGreaterThan(0);
    expect(counts.dayValuesDeleted).toBe(1); // the durations of 01-07
    expect(await count(`metrics_day_values WHERE project_id = $1`)).toBe(0);
    expect(await count(`metrics_trend_point WHERE project_id = $1 AND time_grain IN ('hour', 'day') AND time_bucket < '2026-01-08'`)).toBe(0);
    expect(
      await count(`metrics_trend_point WHERE project_id = $1 AND time_grain IN ('hour', 'day') AND time_bucket >= '2026-01-14'`),
    ).toBeGreaterThan(0);
    expect(await count(`metrics_breakdown_point WHERE project_id = $1 AND time_bucket < '2026-01-08'`)).toBe(0);
    expect(await count(`metrics_trend_point WHERE project_id = $1 AND time_grain = 'week' AND metric_key = 'sessions'`)).toBe(2);
    // now 04-08: cutoff 01-08, the first week after it starts Monday 01-12. Days of [01-05, 01-19) come as:
    // the week of 01-05 (downsampled, 1 session), then days 01-12 … 01-18 (01-14: 1 session).
    const trend = await get('/metrics/sessions/trend?grain=day&from=2026-01-05T00:00:00Z&to=2026-01-19T00:00:00Z');
    expect(gradedPoints(trend, 0, 10)).toEqual([
      ['2026-01-05', 'week', 1],
      ['2026-01-12', 'day', 0],
      ['2026-01-13', 'day', 0],
      ['2026-01-14', 'day', 1],
      ['2026-01-15', 'day', 0],
      ['2026-01-16', 'day', 0],
      ['2026-01-17', 'day', 0],
      ['2026-01-18', 'day', 0],
    ]);
    // a range whose first bucket starts after the cutoff lost nothing: its own grain throughout,
    // though the week holding the cutoff began before it (and holds the 01-07 session, outside the range)
    const recent = await get('/metrics/sessions/trend?grain=day&from=2026-01-09T00:00:00Z&to=2026-01-16T00:00:00Z');
    expect(gradedPoints(recent, 0, 10)).toEqual([
      ['2026-01-09', 'day', 0],
      ['2026-01-10', 'day', 0],
      ['2026-01-11', 'day', 0],
      ['2026-01-12', 'day', 0],
      ['2026-01-13', 'day', 0],
      ['2026-01-14', 'day', 1],
      ['2026-01-15', 'day', 0],
    ]);
    const hours = await get('/metrics/sessions/trend?grain=hour&from=2026-01-14T09:00:00Z&to=2026-01-14T12:00:00Z');
    expect(gradedPoints(hours, 11, 16)).toEqual([
      ['09:00', 'hour', 0],
      ['10:00', 'hour', 1],
      ['11:00', 'hour', 0],
    ]);
  });

  it('deletes summaries after 180 days', async () => {
    clock.set(new Date(Date.parse('2026-01-16T01:00:00Z') + 180 * DAY + 1));
    const counts = await runMetricsRetention(t);
    expect(counts.summariesDeleted).toBe(2);
    expect(await count(`metrics_summary WHERE project_id = $1`)).toBe(0);
    const summary = await get('/metrics/summary');
    expect(summary.body.code).toBe('METRICS_SUMMARY_NOT_FOUND');
  });

  it('computes a week and a month that lost day points to retention from their sessions when one of them changes', async () => {
    // the day points and values before the last cutoff (07-15 01:00 less 90 days) are gone, and the state says so
    const [state] = await t.sql(`SELECT days_complete_from FROM metrics_compute_state`);
    expect(state.days_complete_from.toISOString()).toBe('2026-04-16T01:00:00.001Z');
    // a late session on 01-06, in the week of 01-05 (with 'old' of 01-07, whose day point is gone) and in January
    await createSession(t, shop.id, { sessionId: 'late', base: new Date('2026-01-06T10:00:00Z'), events: [page('/', 0), page('/', 30)] });
    await computeMetrics(t);
    const point = async (grain: string, bucket: string, metric: string) =>
      (
        await t.sql(
          `SELECT value_numeric FROM metrics_trend_point WHERE project_id = $1 AND metric_key = $2 AND time_grain = $3 AND time_bucket = $4`,
          [shop.id, metric, grain, bucket],
        )
      )[0]?.value_numeric;
    // summed from the days that are left, the week would hold 'late' alone, and the month 'late' and 'new'
    expect(await point('week', '2026-01-05T00:00:00Z', 'sessions')).toBe(2); // old, late
    expect(await point('month', '2026-01-01T00:00:00Z', 'sessions')).toBe(3); // old, late, new
    // durations 60 (old) and 30 (late); 'new' has one event, so none
    expect(await point('month', '2026-01-01T00:00:00Z', 'median_duration_seconds')).toBe(45);
    expect(await point('day', '2026-01-06T00:00:00Z', 'sessions')).toBe(1);
  });
});
