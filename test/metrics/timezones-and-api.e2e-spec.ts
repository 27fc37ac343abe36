import { FixedClock } from '../../src/common/clock/clock.js';
import { computeMetrics, insertKpiEvent, insertSessionMetrics } from '../factories/metrics.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { createSession } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const page = (path: string, at: number) => ({ type: 'pageview', url: `https://shop.example${path}`, at });
const points = (res: { body: { points: { bucket: string; value: number | null }[] } }) => res.body.points.map((p) => [p.bucket, p.value]);

describe('metrics read model: timezones, breakdown, drilldown, summary and errors', () => {
  const clock = new FixedClock(new Date('2026-04-05T12:00:00Z'));
  let t: TestApp;
  let kolkata: ProjectFixture;
  let berlin: ProjectFixture;
  let utc: ProjectFixture;
  const get = (p: ProjectFixture, path: string) => t.request({ url: `/v1/projects/${p.id}${path}`, key: p.keys.read });

  beforeAll(async () => {
    t = await startTestApp({ clock });
    kolkata = await createProject(t, { name: 'kolkata', timezone: 'Asia/Kolkata' });
    berlin = await createProject(t, { name: 'berlin', timezone: 'Europe/Berlin' });
    utc = await createProject(t, { name: 'utc' });
    // Kolkata (+05:30): 18:29 UTC is 23:59 on 03-02 local, 18:30 UTC is 00:00 on 03-03 local.
    await createSession(t, kolkata.id, { sessionId: 'K1', base: new Date('2026-03-02T18:29:00Z'), events: [page('/', 0)] });
    await createSession(t, kolkata.id, { sessionId: 'K2', base: new Date('2026-03-02T18:30:00Z'), events: [page('/', 0)] });
    await createSession(t, kolkata.id, { sessionId: 'K3', base: new Date('2026-03-03T18:29:59Z'), events: [page('/', 0)] });
    // Berlin: 2026-03-29 is the spring-forward day, 23 hours: [03-28T23:00Z, 03-29T22:00Z).
    await createSession(t, berlin.id, { sessionId: 'B1', base: new Date('2026-03-28T22:59:00Z'), events: [page('/', 0)] });
    await createSession(t, berlin.id, { sessionId: 'B2', base: new Date('2026-03-28T23:00:00Z'), events: [page('/', 0)] });
    await createSession(t, berlin.id, { sessionId: 'B3', base: new Date('2026-03-29T21:59:00Z'), events: [page('/', 0)] });
    await createSession(t, berlin.id, { sessionId: 'B4', base: new Date('2026-03-29T22:00:00Z'), events: [page('/', 0)] });
    // UTC project for breakdown and drilldown: three days; entry pages / and /promo.
    // 04-01: U1 / → /a (converted), U2 / alone (bounce); 04-02: U3 /promo alone (bounce), U4 / → /b; 04-03: U5 /promo → /c (converted).
    await createSession(t, utc.id, {
      sessionId: 'U1',
      base: new Date('2026-04-01T09:00:00Z'),
      events: [page('/', 0), page('/a', 10), { type: 'conversion', at: 20 }],
    });
    await createSession(t, utc.id, { sessionId: 'U2', base: new Date('2026-04-01T10:00:00Z'), events: [page('/', 0)] });
    await createSession(t, utc.id, { sessionId: 'U3', base: new Date('2026-04-02T09:00:00Z'), events: [page('/promo', 0)] });
    await createSession(t, utc.id, { sessionId: 'U4', base: new Date('2026-04-02T10:00:00Z'), events: [page('/', 0), page('/b', 5)] });
    await createSession(t, utc.id, {
      sessionId: 'U5',
      base: new Date('2026-04-03T09:00:00Z'),
      events: [page('/promo', 0), page('/c', 5), { type: 'conversion', at: 9 }],
    });
    await insertSessionMetrics(t, utc.id, 'U1', { signalDensity: 1 });
    await insertSessionMetrics(t, utc.id, 'U2', { signalDensity: 1, dropOffStep: 'details' });
    await insertSessionMetrics(t, utc.id, 'U3', { signalDensity: 1, dropOffStep: 'payment' });
    await insertSessionMetrics(t, utc.id, 'U4', { signalDensity: 1, dropOffStep: 'details' });
    await insertKpiEvent(t, utc.id, { kpiId: 'kpi.onboarding.step_2_completed', occurredAt: '2026-04-01T08:00:00Z', source: 'web', userId: 'ann' });
    await insertKpiEvent(t, utc.id, { kpiId: 'kpi.onboarding.step_2_completed', occurredAt: '2026-04-02T08:00:00Z', source: 'web', userId: 'bob' });
    await insertKpiEvent(t, utc.id, { kpiId: 'kpi.onboarding.step_2_completed', occurredAt: '2026-04-02T09:00:00Z', source: 'ios', userId: 'cy' });
    await computeMetrics(t);
  });
  afterAll(() => t.close());

  it('buckets days of an Asia/Kolkata project from 18:30 UTC', async () => {
    const res = await get(kolkata, `/metrics/sessions/trend?grain=day&from=2026-03-02T00:00:00Z&to=2026-03-04T00:00:00Z`);
    expect(res.body.timezone).toBe('Asia/Kolkata');
    // buckets holding [03-02T00:00Z, 03-04T00:00Z): local 03-02, 03-03, 03-04 — K1 on 03-02, K2 and K3 on 03-03
    expect(points(res)).toEqual([
      ['2026-03-01T18:30:00.000Z', 1],
      ['2026-03-02T18:30:00.000Z', 2],
      ['2026-03-03T18:30:00.000Z', 0],
    ]);
    // the same range without offsets: UTC, not the server's time zone (America/New_York in the tests)
    const bare = await get(kolkata, `/metrics/sessions/trend?grain=day&from=2026-03-02T00:00:00&to=2026-03-04T00:00:00`);
    expect(points(bare)).toEqual(points(res));
    const hours = await get(kolkata, `/metrics/sessions/trend?grain=hour&from=2026-03-02T17:30:00Z&to=2026-03-02T19:30:00Z`);
    // local hours start at :30 UTC; 18:29 is in the 17:30 hour, 18:30 in the 18:30 hour
    expect(points(hours)).toEqual([
      ['2026-03-02T17:30:00.000Z', 1],
      ['2026-03-02T18:30:00.000Z', 1],
    ]);
  });

  it('gives the 23-hour spring-forward day of Europe/Berlin its own bucket', async () => {
    const res = await get(berlin, `/metrics/sessions/trend?grain=day&from=2026-03-27T23:00:00Z&to=2026-03-30T22:00:00Z`);
    // 03-28 [03-27T23:00Z, 03-28T23:00Z): B1; 03-29 [03-28T23:00Z, 03-29T22:00Z): B2, B3; 03-30 from 22:00Z: B4
    expect(points(res)).toEqual([
      ['2026-03-27T23:00:00.000Z', 1],
      ['2026-03-28T23:00:00.000Z', 2],
      ['2026-03-29T22:00:00.000Z', 1],
    ]);
    const live = await get(berlin, `/stats/sessions?from=2026-03-28T23:00:00Z&to=2026-03-29T22:00:00Z`);
    expect(live.body.sessions).toBe(2);
    // ISO week of Monday 03-23 (CET, 23:00Z the day before) holds all four? B4 is Monday 03-30 local: next week.
    const weeks = await get(berlin, `/metrics/sessions/trend?grain=week&from=2026-03-25T00:00:00Z&to=2026-03-31T00:00:00Z`);
    expect(points(weeks)).toEqual([
      ['2026-03-22T23:00:00.000Z', 3],
      ['2026-03-29T22:00:00.000Z', 1],
    ]);
  });

  it('combines rates over several days from their components, never by averaging the daily rates', async () => {
    const res = await get(utc, `/metrics/bounce_rate/breakdown?dimension=entry_page&from=2026-04-01T00:00:00Z&to=2026-04-04T00:00:00Z`);
    expect(res.status).toBe(200);
    // entry /: U1, U2 (bounce), U4 → 1/3 over 3 sessions; /promo: U3 (bounce), U5 → 1/2 over 2.
    // (averaging /promo's daily rates 1 and 0 would also give 0.5; / 's daily 1/2 and 0 would give 0.25, not 1/3)
    expect(res.body).toEqual({
      metricKey: 'bounce_rate',
      dimension: 'entry_page',
      data: [
        { dimensionValue: '/promo', value: 0.5, sampleSize: 2 },
        { dimensionValue: '/', value: 1 / 3, sampleSize: 3 },
      ],
    });
    const sessions = await get(utc, `/metrics/sessions/breakdown?dimension=exit_page&from=2026-04-01T00:00:00Z&to=2026-04-04T00:00:00Z&limit=2`);
    // exit pages: /a, / , /promo, /b, /c — one each; sorted by value then sample size then value text
    expect(sessions.body.data).toHaveLength(2);
    const dropOff = await get(utc, `/metrics/drop_off_rate/breakdown?dimension=drop_off_step&from=2026-04-01T00:00:00Z&to=2026-04-04T00:00:00Z`);
    // completed sessions with metrics: U1..U4 = 4; dropped at details U2, U4 → 2/4; at payment U3 → 1/4
    expect(dropOff.body.data).toEqual([
      { dimensionValue: 'details', value: 0.5, sampleSize: 4 },
      { dimensionValue: 'payment', value: 0.25, sampleSize: 4 },
    ]);
    const kpi = await get(
      utc,
      `/metrics/kpi.onboarding.step_2_completed/breakdown?dimension=source&from=2026-04-01T00:00:00Z&to=2026-04-04T00:00:00Z`,
    );
    expect(kpi.body.data).toEqual([
      { dimensionValue: 'web', value: 2, sampleSize: 2 },
      { dimensionValue: 'ios', value: 1, sampleSize: 1 },
    ]);
  });

  it('lists the sessions and KPI events behind a metric, page by page', async () => {
    const first = await get(utc, `/metrics/sessions/drilldown?entityType=session&from=2026-04-01T00:00:00Z&to=2026-04-04T00:00:00Z&limit=3`);
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(3);
    expect(first.body.data[0]).toMatchObject({ entityType: 'session', entityId: null, referenceId: 'U5', bucket: '2026-04-03T00:00:00.000Z' });
    expect(first.body.data[0].payload).toMatchObject({
      entryPage: '/promo',
      exitPage: '/c',
      pageCount: 2,
      bounced: false,
      converted: true,
      durationSeconds: 9,
    });
    const second = await get(
      utc,
      `/metrics/sessions/drilldown?entityType=session&from=2026-04-01T00:00:00Z&to=2026-04-04T00:00:00Z&limit=3&cursor=${first.body.nextCursor}`,
    );
    expect(second.body.nextCursor).toBeNull();
    const ids = [...first.body.data, ...second.body.data].map((d: { referenceId: string }) => d.referenceId).sort();
    expect(ids).toEqual(['U1', 'U2', 'U3', 'U4', 'U5']);
    // drop_off_rate rests on the completed sessions with metrics only
    const quality = await get(utc, `/metrics/drop_off_rate/drilldown?entityType=session&from=2026-04-01T00:00:00Z&to=2026-04-04T00:00:00Z`);
    expect(quality.body.data.map((d: { referenceId: string }) => d.referenceId).sort()).toEqual(['U1', 'U2', 'U3', 'U4']);
    const kpi = await get(
      utc,
      `/metrics/kpi.onboarding.step_2_completed/drilldown?entityType=kpi_event&from=2026-04-02T00:00:00Z&to=2026-04-03T00:00:00Z`,
    );
    expect(kpi.body.data.map((d: { payload: { userId: string; source: string } }) => [d.payload.userId, d.payload.source]).sort()).toEqual([
      ['bob', 'web'],
      ['cy', 'ios'],
    ]);
    expect(kpi.body.data[0].entityId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('snapshots a summary with the 24-hour, 7-day and 30-day windows and their change', async () => {
    const res = await get(utc, `/metrics/summary`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ capturedAt: '2026-04-05T12:00:00.000Z', version: '1.0', scope: null });
    // now 04-05T12:00Z. 7 d: [03-29T12:00, 04-05T12:00) holds U1..U5; the 7 days before none.
    expect(res.body.payload.windows['7d'].metrics.sessions).toEqual({ value: 5, previous: 0, change: 5, changeRatio: null });
    // bounce: U2, U3 of 5 with pageviews = 0.4; before: no data → null
    expect(res.body.payload.windows['7d'].metrics.bounce_rate).toEqual({ value: 0.4, previous: null, change: null, changeRatio: null });
    expect(res.body.payload.windows['7d'].metrics['kpi.onboarding.step_2_completed'].value).toBe(3);
    // 24 h: [04-04T12:00, 04-05T12:00) nothing; the day before [04-03T12:00, 04-04T12:00) nothing either (U5 at 09:00)
    expect(res.body.payload.windows['24h'].metrics.sessions).toEqual({ value: 0, previous: 0, change: 0, changeRatio: null });
    expect(res.body.payload.windows['30d'].metrics.drop_off_rate.value).toBe(0.75);
  });

  it('takes the snapshot at or before `at`, and a new one when sources change (with the change against the previous period)', async () => {
    clock.set('2026-04-05T13:00:00Z');
    await createSession(t, utc.id, { sessionId: 'U6', base: new Date('2026-04-05T12:30:00Z'), events: [page('/', 0)] });
    await computeMetrics(t);
    const latest = await get(utc, `/metrics/summary`);
    expect(latest.body.capturedAt).toBe('2026-04-05T13:00:00.000Z');
    // 24 h [04-04T13:00, 04-05T13:00): U6; before: [04-03T13:00, 04-04T13:00): none
    expect(latest.body.payload.windows['24h'].metrics.sessions).toEqual({ value: 1, previous: 0, change: 1, changeRatio: null });
    const earlier = await get(utc, `/metrics/summary?at=2026-04-05T12:30:00Z`);
    expect(earlier.body.capturedAt).toBe('2026-04-05T12:00:00.000Z');
    const none = await get(utc, `/metrics/summary?at=2026-01-01T00:00:00Z`);
    expect(none.status).toBe(404);
    expect(none.body.code).toBe('METRICS_SUMMARY_NOT_FOUND');
  });

  it('snapshots every project in every run, also with nothing new: the latest windows end at the latest run', async () => {
    clock.set('2026-04-05T13:10:00Z');
    const run = await computeMetrics(t);
    expect(run).toMatchObject({ sessionsChanged: 0, kpiEventsChanged: 0 });
    // every customer project (not the system project, which the API never serves)
    const [{ projects }] = await t.sql(`SELECT count(*)::int AS projects FROM projects WHERE name <> 'Trailmark (system)'`);
    expect(run.summariesInserted).toBe(projects);
    const latest = await get(utc, `/metrics/summary`);
    expect(latest.body.capturedAt).toBe('2026-04-05T13:10:00.000Z');
    // 24 h [04-04T13:10, 04-05T13:10): U6 still
    expect(latest.body.payload.windows['24h'].metrics.sessions).toMatchObject({ value: 1, previous: 0 });
  });

  it('lists the catalogue', async () => {
    const res = await get(utc, `/metrics`);
    expect(res.status).toBe(200);
    const keys = res.body.data.map((m: { key: string }) => m.key);
    expect(keys).toEqual(
      expect.arrayContaining(['sessions', 'bounce_rate', 'time_to_first_draft_ms_p90', 'drop_off_rate', 'kpi.onboarding.step_5_completed']),
    );
    expect(res.body.data.find((m: { key: string }) => m.key === 'bounce_rate')).toMatchObject({
      unit: 'ratio',
      source: 'sessions',
      kind: 'rate',
      grains: ['hour', 'day', 'week', 'month'],
      breakdownDimensions: ['entry_page', 'exit_page'],
      drilldownEntityTypes: ['session'],
    });
  });

  it('answers every 4xx with a problem naming the field', async () => {
    const unknown = await get(utc, `/metrics/nope/trend?grain=day`);
    expect([unknown.status, unknown.body.code]).toEqual([404, 'METRIC_NOT_FOUND']);
    for (const path of ['/metrics/nope/breakdown?dimension=entry_page', '/metrics/nope/drilldown?entityType=session']) {
      const res = await get(utc, path);
      expect([res.status, res.body.code]).toEqual([404, 'METRIC_NOT_FOUND']);
    }
    const grain = await get(utc, `/metrics/sessions/trend?grain=minute`);
    expect(grain.status).toBe(400);
    expect(grain.body.errors[0]).toMatchObject({ field: 'grain' });
    expect(grain.body.errors[0].message).toContain('hour, day, week, month');
    const dimension = await get(utc, `/metrics/bounce_rate/breakdown?dimension=drop_off_step`);
    expect(dimension.status).toBe(400);
    expect(dimension.body.errors[0]).toEqual({ field: 'dimension', message: expect.stringContaining('allowed values: entry_page, exit_page') });
    const none = await get(utc, `/metrics/avg_duration_seconds/breakdown?dimension=entry_page`);
    expect(none.body.errors[0].message).toContain('allowed values: (none)');
    const entity = await get(utc, `/metrics/sessions/drilldown?entityType=kpi_event`);
    expect(entity.status).toBe(400);
    expect(entity.body.errors[0]).toEqual({ field: 'entityType', message: expect.stringContaining('allowed values: session') });
    // 2026-01-12 (after the fine-grain cutoff) to 04-30: 108 days = 2,592 hours; 1990–2030 in weeks: 2,087
    const tooMany = await get(utc, `/metrics/sessions/trend?grain=hour&from=2026-01-12T00:00:00Z&to=2026-04-30T00:00:00Z`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors[0].field).toBe('from');
    const weeks = await get(utc, `/metrics/sessions/trend?grain=week&from=1990-01-01T00:00:00Z&to=2030-01-01T00:00:00Z`);
    expect(weeks.status).toBe(400);
    const justEnough = await get(utc, `/metrics/sessions/trend?grain=hour&from=2026-03-01T00:00:00Z&to=2026-05-23T08:00:00Z`);
    // 83 days + 8 h = 2,000 hours exactly
    expect([justEnough.status, justEnough.body.points.length]).toEqual([200, 2000]);
    // Long before the fine-grain cutoff (answered in weeks), a day range still counts its days:
    // 2020-01-01 + 2,000 days = 2025-06-23; one day more is 2,001 day buckets.
    const oldDays = await get(utc, `/metrics/sessions/trend?grain=day&from=2020-01-01T00:00:00Z&to=2025-06-24T00:00:00Z`);
    expect([oldDays.status, oldDays.body.errors?.[0].field]).toEqual([400, 'from']);
    const oldDaysJustEnough = await get(utc, `/metrics/sessions/trend?grain=day&from=2020-01-01T00:00:00Z&to=2025-06-23T00:00:00Z`);
    expect(oldDaysJustEnough.status).toBe(200);
    expect(oldDaysJustEnough.body.points.every((p: { grain: string }) => p.grain === 'week')).toBe(true);
    // a bucket in year 10000 is written as JavaScript writes it (ISO 8601's expanded year)
    const farFuture = await get(utc, `/metrics/sessions/trend?grain=day&from=9999-12-31T00:00:00Z&to=9999-12-31T23:00:00-14:00`);
    expect(points(farFuture)).toEqual([
      ['9999-12-31T00:00:00.000Z', 0],
      ['+010000-01-01T00:00:00.000Z', 0],
    ]);
    // JSON has no infinity: a stored non-finite value (the compute writes none) comes as null, not "Infinity"
    const [stored] = await t.sql(
      `SELECT id, time_bucket AS bucket, value_numeric AS value FROM metrics_trend_point
       WHERE project_id = $1 AND metric_key = 'sessions' AND time_grain = 'day' ORDER BY time_bucket LIMIT 1`,
      [berlin.id],
    );
    await t.sql(`UPDATE metrics_trend_point SET value_numeric = 'Infinity' WHERE id = $1`, [stored.id]);
    const from = stored.bucket as Date;
    const infinite = await get(
      berlin,
      `/metrics/sessions/trend?grain=day&from=${from.toISOString()}&to=${new Date(from.getTime() + 3_600_000).toISOString()}`,
    );
    expect(points(infinite)).toEqual([[from.toISOString(), null]]);
    await t.sql(`UPDATE metrics_trend_point SET value_numeric = $2 WHERE id = $1`, [stored.id, stored.value]);
    const limit = await get(utc, `/metrics/sessions/breakdown?dimension=entry_page&limit=1001`);
    expect(limit.status).toBe(400);
    expect(limit.body.errors[0].field).toBe('limit');
    const order = await get(utc, `/metrics/sessions/trend?from=2026-04-02T00:00:00Z&to=2026-04-01T00:00:00Z`);
    expect([order.status, order.body.errors[0].field]).toEqual([400, 'to']);
    const badCursor = await get(utc, `/metrics/sessions/drilldown?entityType=session&cursor=xyz`);
    expect([badCursor.status, badCursor.body.errors[0].field]).toEqual([400, 'cursor']);
    // decodes to a two-part key, but neither part is what this API puts there
    const forged = Buffer.from(JSON.stringify(['nope', 'nope'])).toString('base64url');
    const forgedCursor = await get(utc, `/metrics/sessions/drilldown?entityType=session&cursor=${forged}`);
    expect([forgedCursor.status, forgedCursor.body.errors[0].field]).toEqual([400, 'cursor']);
    const noKey = await t.request({ url: `/v1/projects/${utc.id}/metrics`, key: null });
    expect(noKey.status).toBe(401);
    const ingestKey = await t.request({ url: `/v1/projects/${utc.id}/metrics`, key: utc.keys.ingest });
    expect(ingestKey.status).toBe(403);
  });
});
