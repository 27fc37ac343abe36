import { FixedClock } from '../../src/common/clock/clock.js';
import { breakKpiEventWrites, completeStep, repairKpiEventWrites } from '../factories/onboarding.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Europe/Berlin is UTC+1 in November, so 22:30Z on Sunday the 23rd is still Sunday locally and
// 23:30Z is already Monday the 24th (the first day of the ISO week of the 24th).
describe('KPI event list and KPI trend stats', () => {
  let t: TestApp;
  let project: ProjectFixture;
  const clock = new FixedClock(new Date('2025-11-23T22:30:00.000Z'));
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestApp({ clock });
    project = await createProject(t, { timezone: 'Europe/Berlin' });
    ids.a1 = (await completeStep(t, project, 'a', 1)).body.kpiEvent.id; // Berlin Sun 23rd 23:30
    clock.set('2025-11-23T23:30:00.000Z');
    ids.b1 = (await completeStep(t, project, 'b', 1)).body.kpiEvent.id; // Berlin Mon 24th 00:30
    clock.set('2025-11-24T10:00:00.000Z');
    ids.a2 = (await completeStep(t, project, 'a', 2)).body.kpiEvent.id; // Berlin Mon 24th 11:00
    clock.set('2025-11-24T11:00:00.000Z');
    await breakKpiEventWrites(t);
    ids.c1 = (await completeStep(t, project, 'c', 1)).body.kpiEvent.id; // failed: not counted in stats
    await repairKpiEventWrites(t);
  });
  afterAll(() => t.close());

  const list = (query: string) => t.request({ url: `/v1/projects/${project.id}/kpi-events?${query}`, key: project.keys.read });
  const stats = (query: string) => t.request({ url: `/v1/projects/${project.id}/stats/kpis?${query}`, key: project.keys.read });

  it('lists KPI events newest first, page by page', async () => {
    const first = await list('limit=2');
    expect(first.status).toBe(200);
    expect(first.body.data.map((e: { id: string }) => e.id)).toEqual([ids.c1, ids.a2]);
    expect(first.body.data[0]).toMatchObject({
      status: 'failed',
      failureReason: expect.stringMatching(/^KPI_EVENT_WRITE_FAILED/),
      attempts: 1,
      recordedAt: null,
    });
    expect(first.body.data[1]).toEqual({
      id: ids.a2,
      kpiId: 'kpi.onboarding.step_2_completed',
      userId: 'a',
      occurredAt: '2025-11-24T10:00:00.000Z',
      metadata: { step: 2, source: 'api' },
      status: 'recorded',
      failureReason: null,
      attempts: 1,
      recordedAt: '2025-11-24T10:00:00.000Z',
    });
    const second = await list(`limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.data.map((e: { id: string }) => e.id)).toEqual([ids.b1, ids.a1]);
    expect(second.body.nextCursor).toBeNull();
  });

  it('filters KPI events by KPI id, user, status and time', async () => {
    const ofList = async (query: string) => (await list(query)).body.data.map((e: { id: string }) => e.id);
    expect(await ofList('kpiId=kpi.onboarding.step_1_completed')).toEqual([ids.c1, ids.b1, ids.a1]);
    expect(await ofList('userId=a')).toEqual([ids.a2, ids.a1]);
    expect(await ofList('status=failed')).toEqual([ids.c1]);
    expect(await ofList('status=recorded&from=2025-11-24T00:00:00.000Z')).toEqual([ids.a2]);
    expect(await ofList('to=2025-11-23T23:30:00.000Z')).toEqual([ids.a1]);
    // without an offset a time is UTC (the tests run in America/New_York, where 23:30 local is 04:30Z next day)
    expect(await ofList('to=2025-11-23T23:30:00')).toEqual([ids.a1]);
  });

  it('rejects bad list filters with VALIDATION_FAILED', async () => {
    // Cursors that decode to a key of the right length but hold no time or no UUID (forged, not ours).
    const forged = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');
    const forgedCursors = [
      forged(['nope', 'nope']),
      forged(['2025-11-24T10:00:00.000Z', 'not-a-uuid']),
      forged(['2025-02-30T00:00:00.000Z', ids.a1]),
    ];
    const reversed = 'from=2025-11-25T00:00:00Z&to=2025-11-24T00:00:00Z';
    for (const query of [
      'status=lost',
      'kpiId=signup',
      'from=yesterday',
      'limit=0',
      'cursor=nonsense',
      reversed,
      ...forgedCursors.map((c) => `cursor=${c}`),
    ]) {
      const res = await list(query);
      expect([query, res.status, res.body.code]).toEqual([query, 400, 'VALIDATION_FAILED']);
    }
  });

  it("counts recorded KPI events per day of the project's time zone, zero-filled for its KPIs", async () => {
    // Berlin days 23rd, 24th, 25th: from 2025-11-23T00:00+01:00 to 2025-11-26T00:00+01:00.
    const res = await stats('from=2025-11-22T23:00:00.000Z&to=2025-11-25T23:00:00.000Z&grain=day');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ timezone: 'Europe/Berlin', grain: 'day' });
    const counts = Object.fromEntries(
      res.body.data.map((p: { kpiId: string; bucket: string; count: number }) => [`${p.kpiId}@${p.bucket}`, p.count]),
    );
    expect(counts).toEqual({
      // a1 on the 23rd, b1 on the 24th; c1 failed and is not counted.
      'kpi.onboarding.step_1_completed@2025-11-23': 1,
      'kpi.onboarding.step_1_completed@2025-11-24': 1,
      'kpi.onboarding.step_1_completed@2025-11-25': 0,
      'kpi.onboarding.step_2_completed@2025-11-23': 0,
      'kpi.onboarding.step_2_completed@2025-11-24': 1,
      'kpi.onboarding.step_2_completed@2025-11-25': 0,
      ...Object.fromEntries([3, 4, 5].flatMap((n) => ['23', '24', '25'].map((d) => [`kpi.onboarding.step_${n}_completed@2025-11-${d}`, 0]))),
    });
  });

  it('counts per ISO week starting on Monday in the project time zone', async () => {
    const res = await stats('from=2025-11-22T23:00:00.000Z&to=2025-11-25T23:00:00.000Z&grain=week');
    const nonZero = res.body.data.filter((p: { count: number }) => p.count > 0);
    // Sunday the 23rd belongs to the week of Monday the 17th; Monday the 24th starts a new week.
    expect(nonZero).toEqual([
      { kpiId: 'kpi.onboarding.step_1_completed', bucket: '2025-11-17', count: 1 },
      { kpiId: 'kpi.onboarding.step_1_completed', bucket: '2025-11-24', count: 1 },
      { kpiId: 'kpi.onboarding.step_2_completed', bucket: '2025-11-24', count: 1 },
    ]);
    expect(res.body.data).toHaveLength(5 * 2);
  });

  it('takes a range of up to 998 days, which touches 999 buckets when it starts mid-day', async () => {
    // 998 × 24 h after 2025-11-23 12:00 in Berlin (UTC+1) is 2028-08-17 13:00 there (UTC+2): local days 11-23 … 08-17
    const longest = await stats('from=2025-11-23T11:00:00.000Z&to=2028-08-17T11:00:00.000Z&grain=day');
    expect(longest.status).toBe(200);
    const buckets = new Set(longest.body.data.map((p: { bucket: string }) => p.bucket));
    expect(buckets.size).toBe(999);
    expect([...buckets][0]).toBe('2025-11-23');
    const over = await stats('from=2025-11-23T11:00:00.000Z&to=2028-08-17T11:00:00.001Z&grain=day');
    expect([over.status, over.body.code]).toEqual([400, 'VALIDATION_FAILED']);
  });

  it('rejects an empty or reversed range, a missing bound and an unknown grain', async () => {
    for (const query of [
      'from=2025-11-24T00:00:00Z&to=2025-11-24T00:00:00Z',
      'from=2025-11-25T00:00:00Z&to=2025-11-24T00:00:00Z',
      'to=2025-11-24T00:00:00Z',
      'from=2025-11-23T00:00:00Z&to=2025-11-24T00:00:00Z&grain=month',
      'from=2020-01-01T00:00:00Z&to=2025-11-24T00:00:00Z&grain=day',
    ]) {
      const res = await stats(query);
      expect([query, res.status, res.body.code]).toEqual([query, 400, 'VALIDATION_FAILED']);
    }
  });

  it('answers 403 to an ingest-only key on the read endpoints', async () => {
    const res = await t.request({ url: `/v1/projects/${project.id}/kpi-events`, key: project.keys.ingest });
    expect(res.status).toBe(403);
  });
});
