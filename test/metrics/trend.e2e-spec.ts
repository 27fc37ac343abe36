import { FixedClock } from '../../src/common/clock/clock.js';
import { computeMetrics, insertKpiEvent, insertSessionMetrics } from '../factories/metrics.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { createSession } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const SESSION_KEYS = [
  'sessions',
  'completed_sessions',
  'bounce_rate',
  'conversion_rate',
  'avg_duration_seconds',
  'median_duration_seconds',
  'pages_per_session',
];
const LIVE_SESSION_FIELDS: Record<string, string> = {
  sessions: 'sessions',
  completed_sessions: 'completedSessions',
  bounce_rate: 'bounceRate',
  conversion_rate: 'conversionRate',
  avg_duration_seconds: 'avgDurationSeconds',
  median_duration_seconds: 'medianDurationSeconds',
  pages_per_session: 'pagesPerSession',
};
const LIVE_QUALITY_FIELDS: Record<string, (b: any) => number | null> = {
  time_to_first_draft_ms_p50: (b) => b.timeToFirstDraft.p50Ms,
  time_to_first_draft_ms_p90: (b) => b.timeToFirstDraft.p90Ms,
  completion_rate: (b) => b.completionRateMean,
  confirmation_rate: (b) => b.confirmationRateMean,
  signal_density: (b) => b.signalDensityMean,
  drop_off_rate: (b) => b.dropOffRate,
};

const page = (path: string, at: number) => ({ type: 'pageview', url: `https://shop.example${path}`, at });

describe('metrics trend: buckets, gap filling and equality with the live stats endpoints', () => {
  const clock = new FixedClock(new Date('2026-03-10T12:00:00Z'));
  let t: TestApp;
  let utc: ProjectFixture;
  const get = (p: ProjectFixture, path: string) => t.request({ url: `/v1/projects/${p.id}${path}`, key: p.keys.read });

  beforeAll(async () => {
    t = await startTestApp({ clock });
    utc = await createProject(t, { name: 'utc' });
    // S1 03-02 10:00, / → /a, 60 s; S2 03-02 10:30, / + conversion, 30 s (bounce); S3 03-02 23:59:59, /b alone (bounce, no duration);
    // S4 03-04 01:00, two signals, 120 s, no pageview; S5 active, 03-04 01:30, /c then /d, 10 s.
    await createSession(t, utc.id, { sessionId: 'S1', base: new Date('2026-03-02T10:00:00Z'), events: [page('/', 0), page('/a', 60)] });
    await createSession(t, utc.id, {
      sessionId: 'S2',
      base: new Date('2026-03-02T10:30:00Z'),
      events: [page('/', 0), { type: 'conversion', at: 30 }],
    });
    await createSession(t, utc.id, { sessionId: 'S3', base: new Date('2026-03-02T23:59:59Z'), events: [page('/b', 0)] });
    await createSession(t, utc.id, {
      sessionId: 'S4',
      base: new Date('2026-03-04T01:00:00Z'),
      events: [
        { type: 'signal', at: 0 },
        { type: 'signal', at: 120 },
      ],
    });
    await createSession(t, utc.id, {
      sessionId: 'S5',
      base: new Date('2026-03-04T01:30:00Z'),
      events: [page('/c', 0), page('/d', 10)],
      status: 'active',
    });
    await insertSessionMetrics(t, utc.id, 'S1', { timeToFirstDraftMs: 1000, completionRate: 1, confirmationRate: 0.5, signalDensity: 2 });
    await insertSessionMetrics(t, utc.id, 'S2', { timeToFirstDraftMs: 3000, completionRate: 0, signalDensity: 1, dropOffStep: 'details' });
    await insertSessionMetrics(t, utc.id, 'S4', { signalDensity: 1 });
    await insertKpiEvent(t, utc.id, { kpiId: 'kpi.onboarding.step_1_completed', occurredAt: '2026-03-02T08:00:00Z' });
    await insertKpiEvent(t, utc.id, { kpiId: 'kpi.onboarding.step_1_completed', occurredAt: '2026-03-04T08:00:00Z', source: 'web' });
    await computeMetrics(t);
  });
  afterAll(() => t.close());

  it('writes UTC day points by hand-computed definitions and fills gaps (0 for counts, null for rates)', async () => {
    const range = 'grain=day&from=2026-03-02T00:00:00Z&to=2026-03-05T00:00:00Z';
    const values = async (key: string) =>
      (await get(utc, `/metrics/${key}/trend?${range}`)).body.points.map((p: { value: number | null }) => p.value);
    const sessions = await get(utc, `/metrics/sessions/trend?${range}`);
    expect(sessions.status).toBe(200);
    expect(sessions.body).toMatchObject({ metricKey: 'sessions', grain: 'day', timezone: 'UTC', computedAt: '2026-03-10T12:00:00.000Z' });
    expect(sessions.body.points).toEqual([
      { bucket: '2026-03-02T00:00:00.000Z', grain: 'day', value: 3 },
      { bucket: '2026-03-03T00:00:00.000Z', grain: 'day', value: 0 },
      { bucket: '2026-03-04T00:00:00.000Z', grain: 'day', value: 2 },
    ]);
    // 03-02: S2, S3 bounced of 3 with a pageview; 03-04: S5 of 1 with a pageview did not bounce (2 pages).
    expect(await values('bounce_rate')).toEqual([2 / 3, null, 0]);
    expect(await values('conversion_rate')).toEqual([1 / 3, null, 0]);
    // durations 60, 30 → avg 45, median 45; 03-04: 120 and 10 → 65
    expect(await values('avg_duration_seconds')).toEqual([45, null, 65]);
    expect(await values('median_duration_seconds')).toEqual([45, null, 65]);
    // pages (2 + 1 + 1) / 3; (0 + 2) / 2
    expect(await values('pages_per_session')).toEqual([4 / 3, null, 1]);
    expect(await values('completed_sessions')).toEqual([3, 0, 1]);
    // quality metrics, completed sessions with metrics: 03-02 S1, S2 — drafts 1000 and 3000 ms: p50 2000, p90 1000 + 0.9 × 2000
    expect(await values('time_to_first_draft_ms_p50')).toEqual([2000, null, null]);
    expect(await values('time_to_first_draft_ms_p90')).toEqual([2800, null, null]);
    expect(await values('drop_off_rate')).toEqual([0.5, null, 0]);
    expect(await values('signal_density')).toEqual([1.5, null, 1]);
    expect(await values('kpi.onboarding.step_1_completed')).toEqual([1, 0, 1]);
  });

  it('writes hour, ISO week (Monday) and month points', async () => {
    const hours = await get(utc, `/metrics/sessions/trend?grain=hour&from=2026-03-02T09:00:00Z&to=2026-03-02T12:00:00Z`);
    expect(hours.body.points.map((p: { bucket: string; value: number }) => [p.bucket, p.value])).toEqual([
      ['2026-03-02T09:00:00.000Z', 0],
      ['2026-03-02T10:00:00.000Z', 2],
      ['2026-03-02T11:00:00.000Z', 0],
    ]);
    // 2026-03-02 is a Monday; a range inside the week gives the whole week's bucket
    const week = await get(utc, `/metrics/sessions/trend?grain=week&from=2026-03-04T00:00:00Z&to=2026-03-05T00:00:00Z`);
    expect(week.body.points).toEqual([{ bucket: '2026-03-02T00:00:00.000Z', grain: 'week', value: 5 }]);
    const month = await get(utc, `/metrics/bounce_rate/trend?grain=month&from=2026-02-01T00:00:00Z&to=2026-04-01T00:00:00Z`);
    // February: no data → null; March: bounced S2, S3 of 4 with a pageview (S1, S2, S3, S5)
    expect(month.body.points).toEqual([
      { bucket: '2026-02-01T00:00:00.000Z', grain: 'month', value: null },
      { bucket: '2026-03-01T00:00:00.000Z', grain: 'month', value: 0.5 },
    ]);
  });

  it('gives, for each bucket, the figures the live stats endpoints give over the same range', async () => {
    for (const grain of ['hour', 'day', 'week', 'month']) {
      const from = '2026-03-02T00:00:00Z';
      const to = '2026-03-05T00:00:00Z';
      const trends: Record<string, { bucket: string; value: number | null }[]> = {};
      for (const key of [...SESSION_KEYS, ...Object.keys(LIVE_QUALITY_FIELDS)]) {
        trends[key] = (await get(utc, `/metrics/${key}/trend?grain=${grain}&from=${from}&to=${to}`)).body.points;
      }
      const buckets = trends.sessions.map((p) => p.bucket);
      for (let i = 0; i < buckets.length; i++) {
        const next = i + 1 < buckets.length ? buckets[i + 1] : nextBucket(buckets[i], grain);
        const live = (await get(utc, `/stats/sessions?from=${buckets[i]}&to=${next}`)).body;
        for (const key of SESSION_KEYS) {
          const expected = live[LIVE_SESSION_FIELDS[key]];
          // gaps: the live endpoint answers 0 sessions and null rates too
          expect([grain, buckets[i], key, trends[key][i].value]).toEqual([grain, buckets[i], key, expected]);
        }
        const quality = (await get(utc, `/stats/session-metrics?from=${buckets[i]}&to=${next}`)).body;
        for (const [key, field] of Object.entries(LIVE_QUALITY_FIELDS)) {
          expect([grain, buckets[i], key, trends[key][i].value]).toEqual([grain, buckets[i], key, field(quality)]);
        }
      }
    }
  });

  it('counts KPI events per day as GET …/stats/kpis does', async () => {
    const live = await get(utc, `/stats/kpis?from=2026-03-02T00:00:00Z&to=2026-03-05T00:00:00Z&grain=day`);
    expect(live.status).toBe(200);
    const trend = await get(utc, `/metrics/kpi.onboarding.step_1_completed/trend?grain=day&from=2026-03-02T00:00:00Z&to=2026-03-05T00:00:00Z`);
    const liveSeries = JSON.stringify(live.body);
    // both say 1, 0, 1
    expect(trend.body.points.map((p: { value: number }) => p.value)).toEqual([1, 0, 1]);
    expect(liveSeries).toContain('kpi.onboarding.step_1_completed');
  });

  it('finds the rows of a deleted project gone on the next run, and its log rows consumed', async () => {
    const gone = await createProject(t, { name: 'gone' });
    await createSession(t, gone.id, { sessionId: 'G1', base: new Date('2026-03-03T10:00:00Z'), events: [page('/', 0), page('/a', 5)] });
    await insertKpiEvent(t, gone.id, { kpiId: 'kpi.onboarding.step_1_completed', occurredAt: '2026-03-03T11:00:00Z' });
    await computeMetrics(t);
    await t.sql(`DELETE FROM projects WHERE id = $1`, [gone.id]);
    const logged = `SELECT source, count(*)::int AS n FROM metrics_source_change WHERE project_id = $1 GROUP BY source ORDER BY source`;
    // the session and its metrics name one key; the KPI event its own
    expect(await t.sql(`SELECT DISTINCT source, entity_key FROM metrics_source_change WHERE project_id = $1 ORDER BY source`, [gone.id])).toEqual([
      { source: 'kpi_event', entity_key: expect.any(String) },
      { source: 'session', entity_key: 'G1' },
    ]);
    const run = await computeMetrics(t);
    // its buckets are the project's, which is gone with its read-model rows
    expect(run).toMatchObject({ sessionsChanged: 1, kpiEventsChanged: 1, buckets: 0 });
    expect(await t.sql(logged, [gone.id])).toEqual([]);
    const utcDays = await get(utc, '/metrics/sessions/trend?grain=day&from=2026-03-02T00:00:00Z&to=2026-03-05T00:00:00Z');
    expect(utcDays.body.points.map((p: { value: number }) => p.value)).toEqual([3, 0, 2]);
  });

  it('lists only the completed sessions behind completed_sessions, every session behind sessions', async () => {
    // 03-04: S4 completed, S5 active
    const range = 'entityType=session&from=2026-03-04T00:00:00Z&to=2026-03-05T00:00:00Z';
    const refs = async (metric: string) =>
      (await get(utc, `/metrics/${metric}/drilldown?${range}`)).body.data.map((d: { referenceId: string }) => d.referenceId).sort();
    expect(await refs('completed_sessions')).toEqual(['S4']);
    expect(await refs('sessions')).toEqual(['S4', 'S5']);
  });
});

function nextBucket(bucket: string, grain: string): string {
  const d = new Date(bucket);
  if (grain === 'hour') d.setUTCHours(d.getUTCHours() + 1);
  if (grain === 'day') d.setUTCDate(d.getUTCDate() + 1);
  if (grain === 'week') d.setUTCDate(d.getUTCDate() + 7);
  if (grain === 'month') d.setUTCMonth(d.getUTCMonth() + 1);
  return d.toISOString();
}

describe('metrics trend: averages exact in any order of the rows', () => {
  const clock = new FixedClock(new Date('2026-03-10T12:00:00Z'));
  let t: TestApp;
  let shop: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    shop = await createProject(t);
  });
  afterAll(() => t.close());

  it('gives the mean duration of 0.1, 0.2 and 0.3 s as 0.2, in the trend and in the live stats', async () => {
    // In double precision, 0.1 + 0.2 + 0.3 is 0.6000000000000001 or 0.6 depending on the order, and
    // the mean 0.20000000000000004 or 0.19999999999999998: never 0.2, the figure by hand.
    for (const [id, seconds] of [
      ['D1', 0.3],
      ['D2', 0.1],
      ['D3', 0.2],
    ] as const) {
      await createSession(t, shop.id, { sessionId: id, base: new Date('2026-03-03T10:00:00Z'), events: [page('/', 0), page('/a', seconds)] });
    }
    await computeMetrics(t);
    const range = 'from=2026-03-03T00:00:00Z&to=2026-03-04T00:00:00Z';
    const trend = await t.request({ url: `/v1/projects/${shop.id}/metrics/avg_duration_seconds/trend?grain=day&${range}`, key: shop.keys.read });
    expect(trend.body.points.map((p: { value: number }) => p.value)).toEqual([0.2]);
    const live = await t.request({ url: `/v1/projects/${shop.id}/stats/sessions?${range}`, key: shop.keys.read });
    expect(live.body.avgDurationSeconds).toBe(0.2);
  });
  it('keeps every digit of a single value: a completion rate of 1/3 is 1/3, not 0.333333333333333', async () => {
    await createSession(t, shop.id, {
      sessionId: 'Q1',
      base: new Date('2026-03-04T10:00:00Z'),
      status: 'completed',
      events: [page('/', 0), page('/a', 60)],
    });
    await insertSessionMetrics(t, shop.id, 'Q1', { completionRate: 1 / 3, confirmationRate: 2 / 3, signalDensity: 0.1 });
    await computeMetrics(t);
    const range = 'from=2026-03-04T00:00:00Z&to=2026-03-05T00:00:00Z';
    const trend = await t.request({ url: `/v1/projects/${shop.id}/metrics/completion_rate/trend?grain=day&${range}`, key: shop.keys.read });
    expect(trend.body.points.map((p: { value: number }) => p.value)).toEqual([1 / 3]);
    const live = await t.request({ url: `/v1/projects/${shop.id}/stats/session-metrics?${range}`, key: shop.keys.read });
    expect(live.body).toMatchObject({ completionRateMean: 1 / 3, confirmationRateMean: 2 / 3, signalDensityMean: 0.1 });
  });
});

describe('metrics trend: a week and a month recomputed from their days', () => {
  // Monday 03-02 to Sunday 03-08 is one ISO week, in March; Europe/Berlin is UTC+1 then
  const clock = new FixedClock(new Date('2026-03-20T00:00:00Z'));
  let t: TestApp;
  let berlin: ProjectFixture;
  const get = (path: string) => t.request({ url: `/v1/projects/${berlin.id}${path}`, key: berlin.keys.read });
  const lasting = async (sessionId: string, startUtc: string, seconds: number, draftMs?: number) => {
    await createSession(t, berlin.id, { sessionId, base: new Date(startUtc), events: [page('/', 0), page('/next', seconds)], status: 'completed' });
    if (draftMs !== undefined) await insertSessionMetrics(t, berlin.id, sessionId, { timeToFirstDraftMs: draftMs });
  };
  const values = async (metric: string, grain: string, from: string, to: string) =>
    (await get(`/metrics/${metric}/trend?grain=${grain}&from=${from}&to=${to}`)).body.points.map((p: { value: number | null }) => p.value);

  beforeAll(async () => {
    t = await startTestApp({ clock });
    berlin = await createProject(t, { name: 'berlin', timezone: 'Europe/Berlin' });
  });
  afterAll(() => t.close());

  it('takes the percentiles of the days’ values and sums the days’ components, after a change in one of the days', async () => {
    // local days: 03-02 (10 s, 20 s), 03-03 (30 s); 03-02 23:30 UTC is 03-03 00:30 in Berlin
    await lasting('a', '2026-03-02T09:00:00Z', 10, 1_000);
    await lasting('b', '2026-03-02T12:00:00Z', 20, 3_000);
    await lasting('c', '2026-03-02T23:30:00Z', 30, 2_000);
    await computeMetrics(t, true);
    const week = ['week', '2026-03-01T23:00:00Z', '2026-03-08T23:00:00Z'] as const;
    const month = ['month', '2026-02-28T23:00:00Z', '2026-03-31T22:00:00Z'] as const;
    expect(await values('median_duration_seconds', ...week)).toEqual([20]);
    // one day changes (03-03 gains 100 s), one is new (03-05: 40 s, no metrics)
    await lasting('d', '2026-03-03T08:00:00Z', 100, 10_000);
    await lasting('e', '2026-03-05T08:00:00Z', 40);
    const counts = await computeMetrics(t);
    expect(counts).toMatchObject({ full: false, dayValuesUpserted: 3 }); // durations of 03-03 and 03-05, drafts of 03-03
    // durations 10, 20, 30, 40, 100: median 30, mean 40; drafts 1000, 2000, 3000, 10000:
    // p50 = 2000 + 0.5 × 1000 = 2500, p90 = 3000 + 0.7 × 7000 = 7900 (percentile_cont between ranks 3 and 4 of 4)
    for (const range of [week, month] as (readonly [string, string, string])[]) {
      expect(await values('sessions', ...range)).toEqual([5]);
      expect(await values('median_duration_seconds', ...range)).toEqual([30]);
      expect(await values('avg_duration_seconds', ...range)).toEqual([40]);
      expect(await values('time_to_first_draft_ms_p50', ...range)).toEqual([2_500]);
      // (PostgreSQL interpolates with 0.9 × 3 − 2 = 0.7000000000000002)
      const [p90] = await values('time_to_first_draft_ms_p90', ...range);
      expect(p90).toBeCloseTo(7_900, 6);
    }
    // and a session leaving the week takes its values along
    await t.sql(`DELETE FROM session_metrics WHERE project_id = $1 AND session_id = 'd'`, [berlin.id]);
    await t.sql(`DELETE FROM sessions WHERE project_id = $1 AND session_id = 'd'`, [berlin.id]);
    await computeMetrics(t);
    expect(await values('median_duration_seconds', ...week)).toEqual([25]);
    const [p90] = await values('time_to_first_draft_ms_p90', ...week);
    expect(p90).toBeCloseTo(2_800, 6); // 2000 + 0.8 × 1000
  });
});
