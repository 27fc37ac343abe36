import { FixedClock } from '../../src/common/clock/clock.js';
import { computeMetrics } from '../factories/metrics.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { createSession } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const page = (path: string, at: number) => ({ type: 'pageview', url: `https://shop.example${path}`, at });
const points = (res: { body: { points: { bucket: string; grain: string; value: number | null }[] } }) =>
  res.body.points.map((p) => [p.bucket, p.grain, p.value]);

// Europe/Berlin in 2026: spring forward on 03-29 at 01:00Z (02:00 CET → 03:00 CEST), fall back on
// 10-25 at 01:00Z (03:00 CEST → 02:00 CET, so local 02:00–03:00 happens twice).
describe('metrics read model: hour buckets on daylight-saving days', () => {
  const clock = new FixedClock(new Date('2026-11-01T12:00:00Z'));
  let t: TestApp;
  let berlin: ProjectFixture;
  const trend = (query: string) => t.request({ url: `/v1/projects/${berlin.id}/metrics/sessions/trend?${query}`, key: berlin.keys.read });

  beforeAll(async () => {
    t = await startTestApp({ clock });
    berlin = await createProject(t, { name: 'berlin', timezone: 'Europe/Berlin' });
    // spring: 00:30Z is 01:30 CET, 01:30Z is 03:30 CEST (the local 02:00 hour does not exist)
    await createSession(t, berlin.id, { sessionId: 'S1', base: new Date('2026-03-29T00:30:00Z'), events: [page('/', 0)] });
    await createSession(t, berlin.id, { sessionId: 'S2', base: new Date('2026-03-29T01:30:00Z'), events: [page('/', 0)] });
    // autumn: 23:30Z is 01:30 CEST, 00:30Z is the first 02:30 (CEST), 01:30Z the second 02:30 (CET)
    await createSession(t, berlin.id, { sessionId: 'F0', base: new Date('2026-10-24T23:30:00Z'), events: [page('/', 0)] });
    await createSession(t, berlin.id, { sessionId: 'F1', base: new Date('2026-10-25T00:30:00Z'), events: [page('/', 0)] });
    await createSession(t, berlin.id, { sessionId: 'F2', base: new Date('2026-10-25T01:30:00Z'), events: [page('/', 0)] });
    await computeMetrics(t);
  });
  afterAll(() => t.close());

  it('gives the fall-back day 25 hour buckets, the repeated local hour twice', async () => {
    clock.set('2026-11-01T12:00:00Z');
    const around = await trend('grain=hour&from=2026-10-24T23:00:00Z&to=2026-10-25T02:00:00Z');
    expect(points(around)).toEqual([
      ['2026-10-24T23:00:00.000Z', 'hour', 1],
      ['2026-10-25T00:00:00.000Z', 'hour', 1],
      ['2026-10-25T01:00:00.000Z', 'hour', 1],
    ]);
    // the local day 10-25 is [10-24T22:00Z, 10-25T23:00Z): 25 hours
    const day = await trend('grain=hour&from=2026-10-24T22:00:00Z&to=2026-10-25T23:00:00Z');
    expect(day.body.points).toHaveLength(25);
    expect(day.body.points[24].bucket).toBe('2026-10-25T22:00:00.000Z');
    const days = await trend('grain=day&from=2026-10-24T22:00:00Z&to=2026-10-25T23:00:00Z');
    expect(points(days)).toEqual([['2026-10-24T22:00:00.000Z', 'day', 3]]);
  });

  it('gives the spring-forward day 23 hour buckets, none repeated', async () => {
    clock.set('2026-04-05T12:00:00Z'); // within 90 days, so hours are not answered as weeks
    const around = await trend('grain=hour&from=2026-03-29T00:00:00Z&to=2026-03-29T03:00:00Z');
    expect(points(around)).toEqual([
      ['2026-03-29T00:00:00.000Z', 'hour', 1],
      ['2026-03-29T01:00:00.000Z', 'hour', 1],
      ['2026-03-29T02:00:00.000Z', 'hour', 0],
    ]);
    // the local day 03-29 is [03-28T23:00Z, 03-29T22:00Z): 23 hours
    const day = await trend('grain=hour&from=2026-03-28T23:00:00Z&to=2026-03-29T22:00:00Z');
    expect(day.body.points).toHaveLength(23);
    expect(new Set(day.body.points.map((p: { bucket: string }) => p.bucket)).size).toBe(23);
  });

  it('stores one hour point per absolute hour', async () => {
    const rows = await t.sql(
      `SELECT time_bucket, value_numeric FROM metrics_trend_point
       WHERE project_id = $1 AND metric_key = 'sessions' AND time_grain = 'hour' ORDER BY time_bucket`,
      [berlin.id],
    );
    expect(rows.map((r: { time_bucket: Date; value_numeric: number }) => [r.time_bucket.toISOString(), r.value_numeric])).toEqual([
      ['2026-03-29T00:00:00.000Z', 1],
      ['2026-03-29T01:00:00.000Z', 1],
      ['2026-10-24T23:00:00.000Z', 1],
      ['2026-10-25T00:00:00.000Z', 1],
      ['2026-10-25T01:00:00.000Z', 1],
    ]);
  });
});

// Australia/Lord_Howe moves its clocks by 30 minutes: in 2026 back on 04-05 at 02:00 local
// (+11:00 → +10:30, at 04-04T15:00Z, so local 01:30–02:00 happens twice) and forward on 10-04 at
// 02:00 local (+10:30 → +11:00, at 10-03T15:30Z, local 02:00–02:30 does not exist). Local hours
// start at :00 UTC under +11 and at :30 UTC under +10:30.
describe('metrics read model: hour buckets where the offset moves by half an hour', () => {
  const clock = new FixedClock(new Date('2026-11-01T12:00:00Z'));
  let t: TestApp;
  let lordHowe: ProjectFixture;
  const trend = (query: string) => t.request({ url: `/v1/projects/${lordHowe.id}/metrics/sessions/trend?${query}`, key: lordHowe.keys.read });

  beforeAll(async () => {
    t = await startTestApp({ clock });
    lordHowe = await createProject(t, { name: 'lord howe', timezone: 'Australia/Lord_Howe' });
    for (const at of [
      '04-04T13:10',
      '04-04T14:10',
      '04-04T15:10',
      '04-04T16:10',
      '04-04T17:40',
      '10-03T13:40',
      '10-03T14:40',
      '10-03T15:40',
      '10-03T16:10',
      '10-03T17:10',
    ]) {
      await createSession(t, lordHowe.id, { sessionId: `L${at}`, base: new Date(`2026-${at}:00Z`), events: [page('/', 0)] });
    }
    await computeMetrics(t);
  });
  afterAll(() => t.close());

  it('starts the hour after a half-hour fall-back at the change, and answers every stored hour', async () => {
    clock.set('2026-04-10T00:00:00Z');
    // 13:10Z is 00:10 (+11) → 13:00Z; 14:10Z is 01:10 (+11) → 14:00Z; 15:10Z is the second 01:40
    // (+10:30), whose local hour began at 14:30Z under the old offset → the bucket starts at the
    // change, 15:00Z, and ends at 15:30Z; 16:10Z is 02:40 → 15:30Z; 17:40Z is 04:10 → 17:30Z.
    const around = await trend('grain=hour&from=2026-04-04T12:00:00Z&to=2026-04-04T19:00:00Z');
    expect(points(around)).toEqual([
      ['2026-04-04T12:00:00.000Z', 'hour', 0],
      ['2026-04-04T13:00:00.000Z', 'hour', 1],
      ['2026-04-04T14:00:00.000Z', 'hour', 1],
      ['2026-04-04T15:00:00.000Z', 'hour', 1],
      ['2026-04-04T15:30:00.000Z', 'hour', 1],
      ['2026-04-04T16:30:00.000Z', 'hour', 0],
      ['2026-04-04T17:30:00.000Z', 'hour', 1],
      ['2026-04-04T18:30:00.000Z', 'hour', 0],
    ]);
  });

  it('starts the hour after a half-hour spring-forward at the change', async () => {
    clock.set('2026-11-01T12:00:00Z');
    // 13:40Z is 00:10 (+10:30) → 13:30Z; 14:40Z is 01:10 → 14:30Z; 15:40Z is 02:40 (+11), whose
    // local hour 02:00 would have begun at 15:00Z, still under +10:30 → 15:30Z; 16:10Z is 03:10 →
    // 16:00Z; 17:10Z → 17:00Z.
    const around = await trend('grain=hour&from=2026-10-03T13:00:00Z&to=2026-10-03T18:00:00Z');
    expect(points(around)).toEqual([
      ['2026-10-03T12:30:00.000Z', 'hour', 0],
      ['2026-10-03T13:30:00.000Z', 'hour', 1],
      ['2026-10-03T14:30:00.000Z', 'hour', 1],
      ['2026-10-03T15:30:00.000Z', 'hour', 1],
      ['2026-10-03T16:00:00.000Z', 'hour', 1],
      ['2026-10-03T17:00:00.000Z', 'hour', 1],
    ]);
  });
});

// Asia/Kuching moved from +08:00 to +08:20 on 1941-09-13 at 16:00Z (tzdata): an offset that is no
// whole number of quarter hours, as many zones had before 1979.
describe('metrics read model: an offset of odd minutes (Kuching, 1941)', () => {
  const clock = new FixedClock(new Date('1941-09-20T00:00:00Z'));
  let t: TestApp;
  let kuching: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    kuching = await createProject(t, { name: 'kuching', timezone: 'Asia/Kuching' });
  });
  afterAll(() => t.close());

  it('buckets a session right after the change (the compute used to fail on it, for every project)', async () => {
    await createSession(t, kuching.id, { sessionId: 'K1', base: new Date('1941-09-13T16:05:00Z'), events: [page('/', 0)] });
    await computeMetrics(t);
    const hours = await t.request({
      url: `/v1/projects/${kuching.id}/metrics/sessions/trend?grain=hour&from=1941-09-13T15:00:00Z&to=1941-09-13T17:00:00Z`,
      key: kuching.keys.read,
    });
    expect(hours.status).toBe(200);
    // one bucket holds it, whichever instant it starts at (quarter-hour precision at such offsets)
    expect(hours.body.points.filter((p: { value: number }) => p.value > 0)).toEqual([expect.objectContaining({ grain: 'hour', value: 1 })]);
    // 16:05Z is 00:25 on 09-14 local
    const day = await t.request({
      url: `/v1/projects/${kuching.id}/metrics/sessions/trend?grain=day&from=1941-09-13T16:00:00Z&to=1941-09-14T15:40:00Z`,
      key: kuching.keys.read,
    });
    expect(day.body.points.map((p: { value: number }) => p.value)).toEqual([1]);
  });
});
