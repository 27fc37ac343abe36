import fc from 'fast-check';
import { SessionMetricsRepository } from '../../src/session-metrics/session-metrics.repository.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { createSession, type EventSpec } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const pv = (at: number, path = '/'): EventSpec => ({ type: 'pageview', at, url: `https://shop.test${path}` });
const ev = (type: string, at: number, name?: string): EventSpec => ({ type, at, name });

describe('session metrics: formulas (spec §3) through the recompute endpoint', () => {
  let t: TestApp;
  let p: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp();
    p = await createProject(t);
  });
  afterAll(() => t.close());

  const recompute = async (events: EventSpec[], sessionId?: string) => {
    const id = await createSession(t, p.id, { events, sessionId });
    const res = await t.request({ method: 'POST', url: `/v1/projects/${p.id}/sessions/${id}/metrics/recompute`, key: p.keys.admin });
    expect(res.status).toBe(200);
    return res.body;
  };

  it('gives nulls for drafts and steps in a session without any, and signals per minute of duration', async () => {
    // duration 90 s = 1.5 min; 1 signal → 1 / 1.5
    const m = await recompute([pv(0), ev('signal', 30), pv(90)], 'no-drafts');
    expect(m).toEqual({
      sessionId: 'no-drafts',
      timeToFirstDraftMs: null,
      completionRate: null,
      confirmationRate: null,
      signalDensity: expect.closeTo(1 / 1.5, 10),
      droppedOff: false,
      dropOffStep: null,
      computedAt: expect.any(String),
    });
  });

  it('measures the first draft from the session start and confirmations per draft', async () => {
    // first draft at 12.5 s → 12500 ms; 1 confirmed of 3 created; 3 signals over 240 s = 4 min → 0.75
    const m = await recompute([
      pv(0),
      ev('draft_created', 40),
      ev('draft_created', 12.5),
      ev('draft_confirmed', 50),
      ev('signal', 60),
      ev('signal', 70),
      ev('signal', 80),
      ev('draft_created', 100),
      pv(240),
    ]);
    expect(m).toMatchObject({
      timeToFirstDraftMs: 12500,
      confirmationRate: expect.closeTo(1 / 3, 10),
      signalDensity: 0.75,
      completionRate: null,
      droppedOff: false,
    });
  });

  it('reports a confirmation rate above 1 as the plain ratio (not capped)', async () => {
    // 2 confirmations / 1 draft = 2; the draft is the first event, so time to first draft is 0
    const m = await recompute([ev('draft_created', 0), ev('draft_confirmed', 5), ev('draft_confirmed', 6)]);
    expect(m).toMatchObject({ timeToFirstDraftMs: 0, confirmationRate: 2 });
  });

  it('names the open step started last as the drop-off step', async () => {
    // started a, b, c (3 names), completed a → 1/3. Open: b (last started at 40 s), c (30 s) → b.
    // 0 signals over 300 s → 0
    const m = await recompute([
      ev('step_started', 0, 'a'),
      ev('step_completed', 10, 'a'),
      ev('step_started', 20, 'b'),
      ev('step_started', 30, 'c'),
      ev('step_started', 40, 'b'),
      pv(300),
    ]);
    expect(m).toMatchObject({ completionRate: expect.closeTo(1 / 3, 10), droppedOff: true, dropOffStep: 'b', signalDensity: 0 });
  });

  it('ignores steps completed without a start, and counts a completion before the start', async () => {
    // started: y (completed), w (completed at 5 s, started at 25 s) → 2/2; x and z never started
    const m = await recompute([
      ev('step_completed', 0, 'x'),
      ev('step_completed', 5, 'w'),
      ev('step_started', 10, 'y'),
      ev('step_completed', 20, 'y'),
      ev('step_started', 25, 'w'),
      ev('step_completed', 30, 'z'),
    ]);
    expect(m).toMatchObject({ completionRate: 1, droppedOff: false, dropOffStep: null });
  });

  it('floors the duration of a sub-minute session at one minute', async () => {
    // 3 signals in 30 s → 3 / max(0.5, 1) = 3
    const m = await recompute([ev('signal', 0), ev('signal', 10), ev('signal', 20), pv(30)]);
    expect(m.signalDensity).toBe(3);
  });

  it('counts a single-event session as one minute', async () => {
    // duration null → 1 minute; 1 signal → 1
    const m = await recompute([ev('signal', 0)]);
    expect(m.signalDensity).toBe(1);
  });

  it('does not count a converted session with open steps as dropped off', async () => {
    // 1 started, 0 completed → 0; converted → not dropped off
    const m = await recompute([ev('step_started', 0, 'checkout'), ev('conversion', 60), pv(120)]);
    expect(m).toMatchObject({ completionRate: 0, droppedOff: false, dropOffStep: null });
  });

  it('serves the stored metrics on GET and lists the run', async () => {
    const stored = await recompute([pv(0), ev('draft_created', 3)], 'read-back');
    const res = await t.request({ url: `/v1/projects/${p.id}/sessions/read-back/metrics`, key: p.keys.read });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(stored);
    const runs = await t.request({ url: `/v1/projects/${p.id}/pipeline-runs?sessionId=read-back`, key: p.keys.read });
    expect(runs.body.data).toEqual([
      expect.objectContaining({
        sessionId: 'read-back',
        status: 'succeeded',
        errorCode: null,
        attempt: 1,
        jobId: null,
        durationMs: expect.any(Number),
      }),
    ]);
  });
});

/** An independent oracle of spec §3, written from the spec's words, for the property test. */
function oracle(events: EventSpec[], converted: boolean) {
  const ms = (e: EventSpec) => Math.round(e.at * 1000);
  const times = events.map(ms);
  const start = Math.min(...times);
  const durationS = events.length > 1 ? (Math.max(...times) - start) / 1000 : null;
  const drafts = events.filter((e) => e.type === 'draft_created');
  const confirmed = events.filter((e) => e.type === 'draft_confirmed').length;
  const started = new Set(events.filter((e) => e.type === 'step_started').map((e) => e.name!));
  const completedNames = new Set(events.filter((e) => e.type === 'step_completed').map((e) => e.name!));
  const open = [...started].filter((n) => !completedNames.has(n));
  const signals = events.filter((e) => e.type === 'signal').length;
  const droppedOff = !converted && open.length > 0;
  // the open step with the latest step_started; ties by insertion (arrival) order, later wins
  let dropOffStep: string | null = null;
  let best = -Infinity;
  events.forEach((e) => {
    if (e.type === 'step_started' && open.includes(e.name!) && ms(e) >= best) {
      best = ms(e);
      dropOffStep = e.name!;
    }
  });
  return {
    timeToFirstDraftMs: drafts.length ? Math.min(...drafts.map(ms)) - start : null,
    completionRate: started.size ? [...started].filter((n) => completedNames.has(n)).length / started.size : null,
    confirmationRate: drafts.length ? confirmed / drafts.length : null,
    signalDensity: signals / Math.max((durationS ?? 0) / 60, 1),
    droppedOff,
    dropOffStep: droppedOff ? dropOffStep : null,
  };
}

describe('session metrics: one definition for the batch and the single-session path', () => {
  let t: TestApp;
  let p: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp();
    p = await createProject(t);
  });
  afterAll(() => t.close());

  const eventArb = fc.record({
    type: fc.constantFrom('pageview', 'signal', 'draft_created', 'draft_confirmed', 'step_started', 'step_completed', 'conversion', 'custom'),
    name: fc.constantFrom('a', 'b', 'c'),
    at: fc.integer({ min: 0, max: 600 }),
  });

  it('gives the oracle figures, the same for a batch as one session at a time', async () => {
    const repository = t.get(SessionMetricsRepository);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(eventArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }), async (sessions) => {
        const ids: string[] = [];
        const expected = new Map<string, ReturnType<typeof oracle>>();
        for (const raw of sessions) {
          // distinct times keep the drop-off tie-break (arrival order) out of the property
          const events = raw.map((e, i) => ({ ...e, at: e.at + i / 1000, url: e.type === 'pageview' ? 'https://shop.test/' : undefined }));
          const id = `prop-${n++}`;
          await createSession(t, p.id, { sessionId: id, events });
          ids.push(id);
          expected.set(
            id,
            oracle(
              events,
              events.some((e) => e.type === 'conversion'),
            ),
          );
        }
        const batch = await repository.computeMetrics(t.dataSource, p.id, ids);
        expect(batch).toHaveLength(ids.length);
        for (const row of batch) {
          const [single] = await repository.computeMetrics(t.dataSource, p.id, [row.sessionId]);
          expect(single).toEqual(row);
          const want = expected.get(row.sessionId)!;
          expect(row.timeToFirstDraftMs).toBe(want.timeToFirstDraftMs);
          if (want.completionRate === null) expect(row.completionRate).toBeNull();
          else expect(row.completionRate).toBeCloseTo(want.completionRate, 10);
          if (want.confirmationRate === null) expect(row.confirmationRate).toBeNull();
          else expect(row.confirmationRate).toBeCloseTo(want.confirmationRate, 10);
          expect(row.signalDensity).toBeCloseTo(want.signalDensity, 10);
          expect({ droppedOff: row.droppedOff, dropOffStep: row.dropOffStep }).toEqual({
            droppedOff: want.droppedOff,
            dropOffStep: want.dropOffStep,
          });
        }
      }),
      { numRuns: 25 },
    );
  });
});
