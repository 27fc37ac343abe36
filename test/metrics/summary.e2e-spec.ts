import { FixedClock } from '../../src/common/clock/clock.js';
import { computeMetrics, insertKpiEvent, insertSessionMetrics } from '../factories/metrics.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { createSession } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WINDOWS = { '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY } as const;
const KPI = 'kpi.onboarding.step_3_completed';

const page = (path: string, at: number) => ({ type: 'pageview', url: `https://shop.example${path}`, at });

/**
 * The summary's windows end at the run, which is rarely where an hour bucket of the project's
 * calendar starts: its figures come from the stored hour points of the buckets inside a window
 * and from the rows of the two buckets at its edges. Each figure must still be exactly what the
 * live stats endpoints say over the window, in time zones whose hours start at :30 UTC (Kolkata)
 * or where a clock change of 30 minutes makes an hour bucket half an hour long (Lord Howe Island,
 * 2026-04-05 02:00 local daylight time back to 01:30, at 04-04T15:00Z).
 */
describe('metrics summary: every figure equals the live endpoints over each window', () => {
  const clock = new FixedClock(new Date('2026-04-05T15:10:00Z'));
  let t: TestApp;
  const projects: ProjectFixture[] = [];
  /** The KPI events written per project, to count them by hand. */
  const kpiEvents = new Map<string, number[]>();
  const get = (p: ProjectFixture, path: string) => t.request({ url: `/v1/projects/${p.id}${path}`, key: p.keys.read });

  /**
   * Sessions and KPI events around every window edge (a minute before and after it, and at it)
   * and inside the windows: different durations (fractional, none), bounces, conversions, session
   * metrics with completion rates whose sum is not a short decimal (1/3), and drop-offs.
   */
  async function populate(p: ProjectFixture, now: number, tag: string): Promise<void> {
    const edges = [0, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 60 * DAY].map((ago) => now - ago);
    const instants = edges.flatMap((e) => [e - 20 * MINUTE, e - MINUTE, e, e + MINUTE, e + 25 * MINUTE]);
    instants.push(now - 3 * HOUR, now - 50 * HOUR, now - 3 * DAY, now - 20 * DAY, now - 45 * DAY, now - 61 * DAY);
    for (const [i, at] of instants.entries()) {
      const id = `${tag}-${i}`;
      const events =
        i % 4 === 0 ? [page('/', 0)] : [page('/', 0), page('/b', 3 + (i % 7) * 1.25), ...(i % 3 === 0 ? [{ type: 'conversion', at: 20 }] : [])];
      await createSession(t, p.id, { sessionId: id, base: new Date(at), events });
      if (i % 5 !== 4) {
        await insertSessionMetrics(t, p.id, id, {
          completionRate: i % 3 === 0 ? 1 / 3 : (i % 10) / 10,
          signalDensity: 1,
          dropOffStep: i % 4 === 1 ? 'details' : null,
        });
      }
      if (i % 2 === 0) {
        await insertKpiEvent(t, p.id, { kpiId: KPI, occurredAt: new Date(at + 30_000).toISOString() });
        kpiEvents.set(p.id, [...(kpiEvents.get(p.id) ?? []), at + 30_000]);
      }
    }
  }

  async function expectSummaryEqualsLive(p: ProjectFixture): Promise<void> {
    const summary = await get(p, '/metrics/summary');
    expect(summary.status).toBe(200);
    const now = new Date(summary.body.capturedAt).getTime();
    for (const [key, ms] of Object.entries(WINDOWS)) {
      const window = summary.body.payload.windows[key];
      const periods = { value: [now - ms, now], previous: [now - 2 * ms, now - ms] } as const;
      for (const [side, [from, to]] of Object.entries(periods)) {
        const range = `from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
        const live = (await get(p, `/stats/sessions?${range}`)).body;
        const quality = (await get(p, `/stats/session-metrics?${range}`)).body;
        const kpis = (kpiEvents.get(p.id) ?? []).filter((at) => at >= from && at < to).length;
        const figure = (name: string) => [p.name, key, side, name, window.metrics[name][side]];
        expect(figure('sessions')).toEqual([p.name, key, side, 'sessions', live.sessions]);
        expect(figure('bounce_rate')).toEqual([p.name, key, side, 'bounce_rate', live.bounceRate]);
        expect(figure('conversion_rate')).toEqual([p.name, key, side, 'conversion_rate', live.conversionRate]);
        expect(figure('median_duration_seconds')).toEqual([p.name, key, side, 'median_duration_seconds', live.medianDurationSeconds]);
        expect(figure('drop_off_rate')).toEqual([p.name, key, side, 'drop_off_rate', quality.dropOffRate]);
        expect(figure('completion_rate')).toEqual([p.name, key, side, 'completion_rate', quality.completionRateMean]);
        expect(figure(KPI)).toEqual([p.name, key, side, KPI, kpis]);
      }
    }
  }

  beforeAll(async () => {
    t = await startTestApp({ clock });
    for (const timezone of ['Asia/Kolkata', 'Australia/Lord_Howe', 'UTC']) {
      projects.push(await createProject(t, { name: timezone, timezone }));
    }
    for (const p of projects) await populate(p, clock.now().getTime(), 'a');
    await computeMetrics(t);
  });
  afterAll(() => t.close());

  it('after a full rebuild, windows ending mid-hour (and just after a 30-minute clock change)', async () => {
    for (const p of projects) await expectSummaryEqualsLive(p);
    // the data is really there: 24 hours hold sessions in every project
    const res = await get(projects[0], '/metrics/summary');
    expect(res.body.payload.windows['24h'].metrics.sessions.value).toBeGreaterThan(5);
  });

  // the last move ends the windows at midnight UTC: the UTC project's periods start with a whole
  // day whose first hour is also their edge bucket (its rows are read, so its day point must not be)
  it('after incremental runs that add rows at the new edges, with the clock moved by odd amounts and to midnight', async () => {
    for (const moved of ['2026-04-05T15:47:30Z', '2026-04-06T03:02:00Z', '2026-04-07T00:00:00Z']) {
      clock.set(moved);
      for (const p of projects) await populate(p, clock.now().getTime(), `b${moved.slice(11, 13)}`);
      const run = await computeMetrics(t);
      expect(run.full).toBeFalsy();
      for (const p of projects) await expectSummaryEqualsLive(p);
    }
  });
});
