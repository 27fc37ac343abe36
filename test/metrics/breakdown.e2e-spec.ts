import { FixedClock } from '../../src/common/clock/clock.js';
import { computeMetrics, insertKpiEvent } from '../factories/metrics.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { createSession } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const page = (path: string, at: number) => ({ type: 'pageview', url: `https://shop.example${path}`, at });

describe('metrics breakdown: stored components, the project calendar, and a full rebuild', () => {
  const clock = new FixedClock(new Date('2026-03-10T12:00:00Z'));
  let t: TestApp;
  let kolkata: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    kolkata = await createProject(t, { name: 'kolkata', timezone: 'Asia/Kolkata' });
    // Kolkata (+05:30), local day 03-03 = [03-02T18:30Z, 03-03T18:30Z).
    // KA 00:30 local on 03-03, entry / alone (bounce); KB 23:30 local on 03-03, entry / → /a;
    // KC 00:15 local on 03-04, entry /x alone (bounce).
    await createSession(t, kolkata.id, { sessionId: 'KA', base: new Date('2026-03-02T19:00:00Z'), events: [page('/', 0)] });
    await createSession(t, kolkata.id, { sessionId: 'KB', base: new Date('2026-03-03T18:00:00Z'), events: [page('/', 0), page('/a', 10)] });
    await createSession(t, kolkata.id, { sessionId: 'KC', base: new Date('2026-03-03T18:45:00Z'), events: [page('/x', 0)] });
    await insertKpiEvent(t, kolkata.id, { kpiId: 'kpi.onboarding.step_2_completed', occurredAt: '2026-03-03T12:00:00Z', source: 'web' });
    await insertKpiEvent(t, kolkata.id, { kpiId: 'kpi.onboarding.step_2_completed', occurredAt: '2026-03-03T13:00:00Z', source: 'web' });
    await computeMetrics(t);
  });
  afterAll(() => t.close());

  const get = (path: string, key: string = kolkata.keys.read) => t.request({ url: `/v1/projects/${kolkata.id}${path}`, key });

  it('starts the range at the project-local day holding `from`', async () => {
    // from = 17:30 local on 03-03: the range starts at that local day (03-02T18:30Z), so KA and KB count;
    // to = 00:00 local on 03-04 leaves KC out. (A UTC day start, 03-03T00:00Z, would find nothing.)
    const path = `/metrics/bounce_rate/breakdown?dimension=entry_page&from=2026-03-03T12:00:00Z&to=2026-03-03T18:30:00Z`;
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ metricKey: 'bounce_rate', dimension: 'entry_page', data: [{ dimensionValue: '/', value: 0.5, sampleSize: 2 }] });
    const asAdmin = await get(path, t.adminKey);
    expect(asAdmin.body).toEqual(res.body);
  });

  it('answers PROJECT_NOT_FOUND to the admin key for an unknown project', async () => {
    const res = await t.request({
      url: `/v1/projects/7d3f4c1e-0000-4000-8000-000000000000/metrics/bounce_rate/breakdown?dimension=entry_page`,
      key: t.adminKey,
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('PROJECT_NOT_FOUND');
  });

  it('answers the same on the prepared statements’ generic plans, and stops a key revoked meanwhile at once', async () => {
    // PostgreSQL plans a prepared statement generically from its sixth execution on.
    const created = await t.request({ method: 'POST', url: `/v1/projects/${kolkata.id}/api-keys`, body: { name: 'tmp', scopes: ['read'] } });
    const key: string = created.body.key;
    const range = 'from=2026-03-01T00:00:00Z&to=2026-03-05T00:00:00Z';
    for (let i = 0; i < 8; i++) {
      // entry /: KA (bounce), KB → 1/2 over 2; /x: KC (bounce) → 1/1.  KPI step 2 by source: web 2.
      const bounce = await get(`/metrics/bounce_rate/breakdown?dimension=entry_page&${range}`, key);
      expect(bounce.body.data).toEqual([
        { dimensionValue: '/x', value: 1, sampleSize: 1 },
        { dimensionValue: '/', value: 0.5, sampleSize: 2 },
      ]);
      const kpi = await get(`/metrics/kpi.onboarding.step_2_completed/breakdown?dimension=source&${range}&limit=1`, key);
      expect(kpi.body.data).toEqual([{ dimensionValue: 'web', value: 2, sampleSize: 2 }]);
    }
    await t.request({ method: 'DELETE', url: `/v1/projects/${kolkata.id}/api-keys/${created.body.id}` });
    expect((await get(`/metrics/bounce_rate/breakdown?dimension=entry_page&${range}`, key)).status).toBe(401);
  });

  it('stores each row’s additive components beside value_json: numerator and the count the value rests on', async () => {
    const rows = await t.sql(
      `SELECT metric_key AS "metricKey", dimension_value AS "dimensionValue", value_numerator::float8 AS numerator, value_denominator::float8 AS denominator
       FROM metrics_breakdown_point
       WHERE project_id = $1 AND time_bucket = '2026-03-02T18:30:00Z' AND dimension_key IN ('entry_page', 'source')
         AND metric_key IN ('bounce_rate', 'sessions', 'kpi.onboarding.step_2_completed')
       ORDER BY 1, 2`,
      [kolkata.id],
    );
    // day 03-03 local: entry / has KA (bounce) and KB; two step-2 KPI events from web
    expect(rows).toEqual([
      { metricKey: 'bounce_rate', dimensionValue: '/', numerator: 1, denominator: 2 },
      { metricKey: 'kpi.onboarding.step_2_completed', dimensionValue: 'web', numerator: 2, denominator: 2 },
      { metricKey: 'sessions', dimensionValue: '/', numerator: 2, denominator: 2 },
    ]);
  });

  it('derives the components of every measure kind from value_json, on insert and on update', async () => {
    const insert = (dimensionValue: string, valueJson: unknown) =>
      t.sql(
        `INSERT INTO metrics_breakdown_point (project_id, metric_key, time_grain, time_bucket, dimension_key, dimension_value, value_numeric, value_json, computed_at)
         VALUES ($1, 'test.kinds', 'day', '2026-01-01T00:00:00Z', 'kind', $2, 0, $3, now())`,
        [kolkata.id, dimensionValue, JSON.stringify(valueJson)],
      );
    await insert('rate', { numerator: 3, denominator: 8 });
    await insert('mean', { sum: 12.5, count: 4 });
    await insert('count', { count: 7 });
    await insert('percentile', { value: 250, count: 9 });
    const read = () =>
      t.sql(
        `SELECT dimension_value AS kind, value_numerator::text AS numerator, value_denominator::text AS denominator
         FROM metrics_breakdown_point WHERE project_id = $1 AND metric_key = 'test.kinds' ORDER BY 1`,
        [kolkata.id],
      );
    expect(await read()).toEqual([
      { kind: 'count', numerator: '7', denominator: '7' },
      { kind: 'mean', numerator: '12.5', denominator: '4' },
      { kind: 'percentile', numerator: null, denominator: '9' },
      { kind: 'rate', numerator: '3', denominator: '8' },
    ]);
    await t.sql(
      `UPDATE metrics_breakdown_point SET value_json = '{"numerator": 5, "denominator": 10}' WHERE project_id = $1 AND metric_key = 'test.kinds' AND dimension_value = 'rate'`,
      [kolkata.id],
    );
    expect((await read()).find((r: { kind: string }) => r.kind === 'rate')).toEqual({ kind: 'rate', numerator: '5', denominator: '10' });
    await t.sql(`DELETE FROM metrics_breakdown_point WHERE project_id = $1 AND metric_key = 'test.kinds'`, [kolkata.id]);
  });

  it('leaves the tables the API reads vacuumed and analyzed after a full rebuild, with the same answers', async () => {
    const path = `/metrics/bounce_rate/breakdown?dimension=entry_page&from=2026-03-01T00:00:00Z&to=2026-03-05T00:00:00Z`;
    const before = await get(path);
    // entry /: KA (bounce), KB → 1/2; /x: KC (bounce) → 1/1
    expect(before.body.data).toEqual([
      { dimensionValue: '/x', value: 1, sampleSize: 1 },
      { dimensionValue: '/', value: 0.5, sampleSize: 2 },
    ]);
    const tables = () =>
      t.sql(
        `SELECT relname AS table, last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analyzed
         FROM pg_stat_user_tables WHERE relname IN ('metrics_trend_point', 'metrics_breakdown_point', 'metrics_drilldown') ORDER BY 1`,
      );
    const names = ['metrics_breakdown_point', 'metrics_drilldown', 'metrics_trend_point'];
    // Incremental runs leave that to autovacuum. This database's first compute was a full one (no
    // definition recorded yet), so its statistics are reset before an incremental run.
    await t.sql(`SELECT pg_stat_reset()`);
    expect(await computeMetrics(t)).toMatchObject({ full: false });
    expect(await tables()).toEqual(names.map((table) => ({ table, vacuumed: false, analyzed: false })));
    await computeMetrics(t, true);
    expect(await tables()).toEqual(names.map((table) => ({ table, vacuumed: true, analyzed: true })));
    expect((await get(path)).body).toEqual(before.body);
  });
});
