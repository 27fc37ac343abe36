import { FixedClock } from '../../src/common/clock/clock.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { insertRawMetrics, runJob, type RawMetricRow } from '../factories/operational-metrics.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const JOB = 'operational-metrics-rollup';

describe('daily rollup job operational-metrics-rollup', () => {
  let t: TestApp;
  let clock: FixedClock;
  let shop: ProjectFixture;
  let other: ProjectFixture;

  const daily = async (project: ProjectFixture, query = '') =>
    (await t.request({ url: `/v1/projects/${project.id}/operational-metrics/daily${query}`, key: project.keys.read })).body.data;

  beforeAll(async () => {
    clock = new FixedClock(new Date('2026-03-10T12:00:00Z'));
    t = await startTestApp({ clock });
    shop = await createProject(t, { name: 'Shop' });
    other = await createProject(t, { name: 'Other' });
    const p = shop.id;
    const a = { labels: { actor: 'a' }, labelsKey: 'actor:a' };
    const b = { labels: { actor: 'b' }, labelsKey: 'actor:b' };
    const jobsX = { labels: { actor: 'jobs', code: 'X' }, labelsKey: 'actor:jobs|code:X' };
    const rows: RawMetricRow[] = [
      // 2026-03-07
      { projectId: p, type: 'processing_time', value: 42, ...a, recordedAt: '2026-03-07T08:00:00Z' },
      ...[40, 10, 30, 20].map((value, i) => ({ projectId: p, type: 'processing_time' as const, value, ...b, recordedAt: `2026-03-07T0${i}:00:00Z` })),
      ...[1, 2, 1].map((value, i) => ({ projectId: p, type: 'error' as const, value, ...jobsX, recordedAt: `2026-03-07T1${i}:00:00Z` })),
      ...Array.from({ length: 20 }, (_, i) => ({
        projectId: p,
        type: 'token_usage' as const,
        value: 20 - i,
        recordedAt: '2026-03-07T23:59:59.999Z',
      })),
      // another project, same day and labels: never mixed in
      { projectId: other.id, type: 'processing_time', value: 1000, ...a, recordedAt: '2026-03-07T08:00:00Z' },
      // 2026-03-08
      ...[9, 5, 7].map((value) => ({ projectId: p, type: 'processing_time' as const, value, ...a, recordedAt: '2026-03-08T00:00:00Z' })),
      // today (2026-03-10) and the days the clock is moved to later: not complete yet
      { projectId: p, type: 'confidence', value: 0.5, recordedAt: '2026-03-10T01:00:00Z' },
      { projectId: p, type: 'confidence', value: 0.25, recordedAt: '2026-03-11T01:00:00Z' },
      { projectId: p, type: 'confidence', value: 0.75, recordedAt: '2026-03-12T23:00:00Z' },
    ];
    await insertRawMetrics(t, rows);
  });
  afterAll(() => t.close());

  it('rolls up every complete UTC day with count, sum, min, max, avg and p95 per type and label set', async () => {
    const run = await runJob(t, JOB);
    expect(run.status).toBe('succeeded');
    // five label sets of the shop, one of the other project
    expect(run.counts).toMatchObject({ daysRolled: 2, rowsUpserted: 6, rawRowsDeleted: 0 });

    const data = await daily(shop);
    expect(data.map((d: { day: string; type: string; labelsKey: string }) => `${d.day} ${d.type} ${d.labelsKey}`)).toEqual([
      '2026-03-07 error actor:jobs|code:X',
      '2026-03-07 processing_time actor:a',
      '2026-03-07 processing_time actor:b',
      '2026-03-07 token_usage ',
      '2026-03-08 processing_time actor:a',
    ]);
    const [errors, oneSample, evenCount, oneToTwenty, oddCount] = data;
    // odd count 1, 1, 2: p95 at rank 1 + 0.95 × (3 − 1) = 2.9 → 1 + 0.9 × (2 − 1) = 1.9
    expect(errors).toMatchObject({ labels: { actor: 'jobs', code: 'X' }, count: 3, sum: 4, min: 1, max: 2 });
    expect(errors.avg).toBeCloseTo(4 / 3, 12);
    expect(errors.p95).toBeCloseTo(1.9, 12);
    // a single sample is every figure
    expect(oneSample).toMatchObject({ labels: { actor: 'a' }, count: 1, sum: 42, min: 42, max: 42, avg: 42, p95: 42 });
    // even count 10, 20, 30, 40: p95 at rank 1 + 0.95 × 3 = 3.85 → 30 + 0.85 × 10 = 38.5; avg 100 / 4 = 25
    expect(evenCount).toMatchObject({ count: 4, sum: 100, min: 10, max: 40, avg: 25 });
    expect(evenCount.p95).toBeCloseTo(38.5, 12);
    // 1..20: sum 210, avg 10.5, p95 at rank 1 + 0.95 × 19 = 19.05 → 19 + 0.05 × 1 = 19.05
    expect(oneToTwenty).toMatchObject({ labels: {}, count: 20, sum: 210, min: 1, max: 20, avg: 10.5 });
    expect(oneToTwenty.p95).toBeCloseTo(19.05, 12);
    // 5, 7, 9: p95 at rank 2.9 → 7 + 0.9 × 2 = 8.8
    expect(oddCount).toMatchObject({ count: 3, sum: 21, min: 5, max: 9, avg: 7 });
    expect(oddCount.p95).toBeCloseTo(8.8, 12);

    expect(await daily(other)).toEqual([
      expect.objectContaining({ day: '2026-03-07', type: 'processing_time', labelsKey: 'actor:a', count: 1, p95: 1000 }),
    ]);
  });

  it('filters the daily figures by type, label set and day range [from, to)', async () => {
    const onlyA = await daily(shop, '?type=processing_time&labelsKey=actor:a');
    expect(onlyA.map((d: { day: string }) => d.day)).toEqual(['2026-03-07', '2026-03-08']);
    const range = await daily(shop, '?from=2026-03-08T00:00:00Z&to=2026-03-09T00:00:00Z');
    expect(range.map((d: { day: string }) => d.day)).toEqual(['2026-03-08']);
  });

  it('changes nothing when rerun', async () => {
    const before = await t.sql(`SELECT * FROM operational_metrics_daily ORDER BY project_id, metric_type, day, labels_key`);
    const run = await runJob(t, JOB);
    expect(run.counts).toMatchObject({ daysRolled: 0, rowsUpserted: 0, rawRowsDeleted: 0 });
    expect(await t.sql(`SELECT * FROM operational_metrics_daily ORDER BY project_id, metric_type, day, labels_key`)).toEqual(before);
  });

  it('re-rolls a day that received late rows, and only that day', async () => {
    const before = await t.sql<{ day: string; computed_at: Date }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, computed_at FROM operational_metrics_daily WHERE project_id = $1 AND labels_key = 'actor:a' ORDER BY day`,
      [shop.id],
    );
    await insertRawMetrics(t, [
      { projectId: shop.id, type: 'processing_time', value: 58, labels: { actor: 'a' }, labelsKey: 'actor:a', recordedAt: '2026-03-07T20:00:00Z' },
    ]);
    const run = await runJob(t, JOB);
    expect(run.counts).toMatchObject({ daysRolled: 1, rowsUpserted: 1 });
    const [late] = await daily(shop, '?type=processing_time&labelsKey=actor:a&to=2026-03-08T00:00:00Z');
    // 42 and 58: sum 100, avg 50, p95 at rank 1 + 0.95 × 1 = 1.95 → 42 + 0.95 × 16 = 57.2
    expect(late).toMatchObject({ day: '2026-03-07', count: 2, sum: 100, min: 42, max: 58, avg: 50 });
    expect(late.p95).toBeCloseTo(57.2, 12);
    const after = await t.sql<{ day: string; computed_at: Date }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, computed_at FROM operational_metrics_daily WHERE project_id = $1 AND labels_key = 'actor:a' ORDER BY day`,
      [shop.id],
    );
    expect(after[1]).toEqual(before[1]); // 2026-03-08 untouched
  });

  it('catches up every day missed while it did not run', async () => {
    clock.set('2026-03-13T01:30:00Z'); // three days later: 10th, 11th and 12th are complete
    const run = await runJob(t, JOB);
    // the shop's three confidence days, and the service's own processing time of the three runs
    // made on the 10th (recorded at the clock's now); this run's own is written after its rollup
    expect(run.counts).toMatchObject({ daysRolled: 3, rowsUpserted: 4 });
    const own = await t.request({ url: '/v1/operational-metrics/daily?type=processing_time' });
    expect(own.body.data).toEqual([
      expect.objectContaining({
        day: '2026-03-10',
        labelsKey: 'actor:operational-metrics-rollup',
        labels: { actor: 'operational-metrics-rollup' },
        count: 3,
      }),
    ]);
    const confidence = await daily(shop, '?type=confidence');
    expect(confidence.map((d: { day: string; p95: number }) => [d.day, d.p95])).toEqual([
      ['2026-03-10', 0.5],
      ['2026-03-11', 0.25],
      ['2026-03-12', 0.75],
    ]);
  });
});

describe('operational-metrics-rollup on a database of its own: raw retention, exact sums', () => {
  let t: TestApp;
  let shop: ProjectFixture;

  beforeAll(async () => {
    // now 2026-03-10T12:00Z, 30 days: raw rows recorded before 2026-02-08T00:00Z go
    t = await startTestApp({ clock: new FixedClock(new Date('2026-03-10T12:00:00Z')) });
    shop = await createProject(t);
  });
  afterAll(() => t.close());

  it('deletes only rolled-up raw rows recorded before the start of the UTC day 30 days ago', async () => {
    const row = (recordedAt: string, receivedAt?: string): RawMetricRow => ({
      projectId: shop.id,
      type: 'queue_depth',
      value: 3,
      labels: { queue: 'q' },
      labelsKey: 'queue:q',
      recordedAt,
      receivedAt,
    });
    await insertRawMetrics(t, [
      row('2026-02-07T23:59:59.999Z'), // old: rolled up, then deleted
      row('2026-02-08T00:00:00Z'), // first instant of the window: kept
      // A day whose row arrives after the run's watermark (its transaction still open when the run
      // began) is not rolled up yet: kept, whatever its age.
      row('2026-02-06T10:00:00Z', `now() + interval '1 hour'`),
    ]);
    const run = await runJob(t, 'operational-metrics-rollup');
    expect(run.counts).toMatchObject({ rawRowsDeleted: 1, retentionCutoff: '2026-02-08T00:00:00.000Z' });
    const left = await t.sql(`SELECT recorded_at AS "recordedAt" FROM operational_metrics WHERE project_id = $1 ORDER BY recorded_at`, [shop.id]);
    expect(left.map((r: { recordedAt: Date }) => r.recordedAt.toISOString())).toEqual(['2026-02-06T10:00:00.000Z', '2026-02-08T00:00:00.000Z']);
    // the deleted day's figures stay in the daily table, which is kept forever
    const days = await t.sql(`SELECT to_char(day, 'YYYY-MM-DD') AS day FROM operational_metrics_daily WHERE project_id = $1 ORDER BY day`, [shop.id]);
    expect(days.map((d: { day: string }) => d.day)).toEqual(['2026-02-06', '2026-02-07', '2026-02-08']);
  });

  it('takes exact sums and averages: an average never falls outside its day’s min and max', async () => {
    const exact = await createProject(t);
    const max = Number.MAX_SAFE_INTEGER;
    await insertRawMetrics(t, [
      { projectId: exact.id, type: 'confidence', value: 1 / 3, recordedAt: '2026-03-09T10:00:00Z' },
      { projectId: exact.id, type: 'token_usage', value: max, recordedAt: '2026-03-09T10:00:00Z' },
      { projectId: exact.id, type: 'token_usage', value: max, recordedAt: '2026-03-09T11:00:00Z' },
    ]);
    expect((await runJob(t, 'operational-metrics-rollup')).status).toBe('succeeded');
    const data = (await t.request({ url: `/v1/projects/${exact.id}/operational-metrics/daily`, key: exact.keys.read })).body.data;
    const [confidence, tokens] = data;
    // a 15-digit cast gave 0.333333333333333, below the day's only value
    expect(confidence).toMatchObject({ type: 'confidence', count: 1, sum: 1 / 3, min: 1 / 3, max: 1 / 3, avg: 1 / 3 });
    // 2 × (2^53 − 1) = 2^54 − 2 is a double exactly; 15 digits gave 18014398509481980 and an average below the min
    expect(tokens).toMatchObject({ type: 'token_usage', count: 2, sum: 18014398509481982, min: max, max, avg: max });
  });
});
