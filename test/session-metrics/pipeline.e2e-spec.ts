import { QueueService } from '../../src/common/queue/queue.service.js';
import { SessionMetricsService } from '../../src/session-metrics/session-metrics.service.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { addLateEvents, createSession, type EventSpec } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/wait.js';

const ev = (type: string, at: number, name?: string): EventSpec => ({ type, at, name });
const BASE = new Date('2026-03-02T10:00:00Z');
const drafting = [ev('session_start', 0), ev('draft_created', 20), ev('draft_confirmed', 50), ev('signal', 60), ev('session_end', 120)];

describe('session metrics pipeline: errors of each step (recompute, single-session path)', () => {
  let t: TestApp;
  let p: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp();
    p = await createProject(t);
  });
  afterAll(() => t.close());

  const recompute = (sessionId: string) =>
    t.request({ method: 'POST', url: `/v1/projects/${p.id}/sessions/${encodeURIComponent(sessionId)}/metrics/recompute`, key: p.keys.admin });
  const stored = async (sessionId: string) =>
    (await t.sql(`SELECT count(*)::int AS n FROM session_metrics WHERE project_id = $1 AND session_id = $2`, [p.id, sessionId]))[0].n;
  const runs = (sessionId: string) =>
    t.sql(`SELECT status, error_code, attempt FROM pipeline_runs WHERE project_id = $1 AND session_id = $2 ORDER BY started_at, attempt`, [
      p.id,
      sessionId,
    ]);

  it('answers 404 SESSION_NOT_FOUND for an unknown session, stores nothing and records the failed run', async () => {
    const res = await recompute('nobody');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'SESSION_NOT_FOUND', title: 'Session not found' });
    expect(await stored('nobody')).toBe(0);
    expect(await runs('nobody')).toEqual([{ status: 'failed', error_code: 'SESSION_NOT_FOUND', attempt: 1 }]);
  });

  it('answers 409 SESSION_NOT_COMPLETED for an active session and stores nothing', async () => {
    const id = await createSession(t, p.id, { events: drafting, status: 'active' });
    const res = await recompute(id);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'SESSION_NOT_COMPLETED', status: 409, sessionStatus: 'active' });
    expect(await stored(id)).toBe(0);
    expect(await runs(id)).toEqual([{ status: 'failed', error_code: 'SESSION_NOT_COMPLETED', attempt: 1 }]);
  });

  it('answers 422 SESSION_DATA_INVALID naming a draft before the session start', async () => {
    // the sessions row says the session started 30 s after its first draft
    const id = await createSession(t, p.id, { events: drafting, base: BASE, row: { started_at: new Date(BASE.getTime() + 30_000) } });
    const res = await recompute(id);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('SESSION_DATA_INVALID');
    expect(res.body.problems).toEqual(['time_to_first_draft_ms is -10000: a draft_created event precedes the session start']);
    expect(await stored(id)).toBe(0);
  });

  it('answers 422 SESSION_DATA_INVALID naming step events without a name and an end before the start', async () => {
    const unnamed = await createSession(t, p.id, { events: [ev('step_started', 0, undefined), ev('signal', 10)] });
    const res = await recompute(unnamed);
    expect(res.status).toBe(422);
    expect(res.body.problems).toEqual(['1 step event(s) have no step name']);
    const backwards = await createSession(t, p.id, { events: drafting, base: BASE, row: { ended_at: new Date(BASE.getTime() - 1000) } });
    const res2 = await recompute(backwards);
    expect(res2.status).toBe(422);
    expect(res2.body.problems).toEqual(['ended_at (2026-03-02T09:59:59.000Z) is before started_at (2026-03-02T10:00:00.000Z)']);
    expect(await stored(backwards)).toBe(0);
  });

  it('answers 422 SESSION_DATA_INVALID naming a negative duration, a zero event count, and a session without events', async () => {
    const inconsistent = await createSession(t, p.id, { events: drafting, row: { duration_seconds: -5 } });
    await t.sql(`UPDATE sessions SET event_count = 0 WHERE project_id = $1 AND session_id = $2`, [p.id, inconsistent]);
    const res = await recompute(inconsistent);
    expect(res.status).toBe(422);
    expect(res.body.problems).toEqual([
      'duration_seconds is -5; it must be null or a non-negative number',
      'event_count is 0; a session has at least one event',
    ]);
    expect(await stored(inconsistent)).toBe(0);
    const empty = await createSession(t, p.id, { events: drafting });
    await t.sql(`DELETE FROM tracking_events WHERE project_id = $1 AND session_id = $2`, [p.id, empty]);
    const res2 = await recompute(empty);
    expect(res2.status).toBe(422);
    expect(res2.body.problems).toEqual(['the session has no events in tracking_events']);
    expect(await stored(empty)).toBe(0);
    expect(await runs(empty)).toEqual([{ status: 'failed', error_code: 'SESSION_DATA_INVALID', attempt: 1 }]);
  });

  it('answers 400 SESSION_ID_INVALID for a session id longer than 128 characters', async () => {
    const res = await recompute('x'.repeat(129));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('SESSION_ID_INVALID');
  });

  it('answers 503 METRICS_PERSIST_FAILED when the write fails, records the failed run and stores nothing', async () => {
    const id = await createSession(t, p.id, { events: drafting });
    await t.sql(`CREATE FUNCTION refuse_metrics() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`);
    await t.sql(`CREATE TRIGGER refuse_metrics BEFORE INSERT ON session_metrics FOR EACH ROW EXECUTE FUNCTION refuse_metrics()`);
    try {
      const res = await recompute(id);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('METRICS_PERSIST_FAILED');
      expect(res.body.detail).toContain('disk full');
    } finally {
      await t.sql(`DROP TRIGGER refuse_metrics ON session_metrics`);
      await t.sql(`DROP FUNCTION refuse_metrics()`);
    }
    expect(await stored(id)).toBe(0);
    expect(await runs(id)).toEqual([{ status: 'failed', error_code: 'METRICS_PERSIST_FAILED', attempt: 1 }]);
  });

  it('answers 500 PIPELINE_RUN_RECORD_FAILED when the run cannot be recorded, and keeps no metrics without their run', async () => {
    const id = await createSession(t, p.id, { events: drafting });
    await t.sql(`CREATE FUNCTION refuse_runs() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'runs table locked'; END $$`);
    await t.sql(`CREATE TRIGGER refuse_runs BEFORE INSERT ON pipeline_runs FOR EACH ROW EXECUTE FUNCTION refuse_runs()`);
    try {
      const res = await recompute(id);
      expect(res.status).toBe(500);
      expect(res.body.code).toBe('PIPELINE_RUN_RECORD_FAILED');
    } finally {
      await t.sql(`DROP TRIGGER refuse_runs ON pipeline_runs`);
      await t.sql(`DROP FUNCTION refuse_runs()`);
    }
    expect(await stored(id)).toBe(0);
  });

  it('answers GET with 404 SESSION_METRICS_NOT_FOUND before the pipeline ran and SESSION_NOT_FOUND for no session', async () => {
    const id = await createSession(t, p.id, { events: drafting });
    const res = await t.request({ url: `/v1/projects/${p.id}/sessions/${id}/metrics`, key: p.keys.read });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('SESSION_METRICS_NOT_FOUND');
    const none = await t.request({ url: `/v1/projects/${p.id}/sessions/nobody-here/metrics`, key: p.keys.read });
    expect(none.body.code).toBe('SESSION_NOT_FOUND');
  });

  it('needs the admin scope to recompute and the read scope to read', async () => {
    const id = await createSession(t, p.id, { events: drafting });
    expect((await t.request({ method: 'POST', url: `/v1/projects/${p.id}/sessions/${id}/metrics/recompute`, key: p.keys.read })).status).toBe(403);
    expect((await t.request({ url: `/v1/projects/${p.id}/pipeline-runs`, key: p.keys.ingest })).status).toBe(403);
  });

  it('refuses to hand on malformed session ids, enqueueing nothing', async () => {
    await expect(t.get(SessionMetricsService).enqueueCompleted(p.id, ['ok', ''])).rejects.toMatchObject({ code: 'SESSION_ID_INVALID' });
    const queued = await t.sql(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'session-metrics'`);
    expect(queued[0].n).toBe(0);
  });

  it('pages pipeline runs by cursor and filters by status', async () => {
    const page1 = await t.request({ url: `/v1/projects/${p.id}/pipeline-runs?status=failed&limit=2`, key: p.keys.read });
    expect(page1.status).toBe(200);
    expect(page1.body.data).toHaveLength(2);
    expect(page1.body.data.every((r: { status: string }) => r.status === 'failed')).toBe(true);
    const page2 = await t.request({
      url: `/v1/projects/${p.id}/pipeline-runs?status=failed&limit=2&cursor=${page1.body.nextCursor}`,
      key: p.keys.read,
    });
    const ids = [...page1.body.data, ...page2.body.data].map((r: { id: string }) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    const bad = await t.request({ url: `/v1/projects/${p.id}/pipeline-runs?status=maybe`, key: p.keys.read });
    expect(bad.status).toBe(400);
  });
});

describe('session metrics stats', () => {
  let t: TestApp;
  let p: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp();
    p = await createProject(t);
  });
  afterAll(() => t.close());

  it('averages the metrics of completed sessions started in [from, to)', async () => {
    const at = (iso: string) => new Date(iso);
    // A: draft at 10 s, 1/1 confirmed, steps 1/2 (dropped off), 2 signals over 2 min → 1
    await createSession(t, p.id, {
      sessionId: 'A',
      base: at('2026-03-02T00:00:00Z'),
      events: [
        ev('session_start', 0),
        ev('draft_created', 10),
        ev('draft_confirmed', 20),
        ev('step_started', 30, 's1'),
        ev('step_completed', 40, 's1'),
        ev('step_started', 50, 's2'),
        ev('signal', 60),
        ev('signal', 120),
      ],
    });
    // B: draft at 30 s, 0/2 confirmed, no steps, 0 signals over 1 min → 0
    await createSession(t, p.id, {
      sessionId: 'B',
      base: at('2026-03-05T00:00:00Z'),
      events: [ev('pageview', 0), ev('draft_created', 30), ev('draft_created', 60)].map((e) => ({
        ...e,
        url: e.type === 'pageview' ? 'https://x.test/' : undefined,
      })),
    });
    // C: no draft, steps 1/1, 0 signals over 30 s (floored to 1 min) → 0
    await createSession(t, p.id, {
      sessionId: 'C',
      base: at('2026-03-09T00:00:00Z'),
      events: [ev('step_started', 0, 'x'), ev('step_completed', 30, 'x')],
    });
    // D: started on `to` (excluded); E: active (no metrics)
    await createSession(t, p.id, { sessionId: 'D', base: at('2026-03-10T00:00:00Z'), events: [ev('draft_created', 0)] });
    await createSession(t, p.id, { sessionId: 'E', base: at('2026-03-03T00:00:00Z'), events: [ev('draft_created', 0)], status: 'active' });
    for (const id of ['A', 'B', 'C', 'D']) {
      expect((await t.request({ method: 'POST', url: `/v1/projects/${p.id}/sessions/${id}/metrics/recompute`, key: p.keys.admin })).status).toBe(200);
    }
    const res = await t.request({
      url: `/v1/projects/${p.id}/stats/session-metrics?from=2026-03-01T00:00:00Z&to=2026-03-10T00:00:00Z`,
      key: p.keys.read,
    });
    expect(res.status).toBe(200);
    // ttfd: A 10000, B 30000 → avg 20000; p50 = 20000 (interpolated); p90 = 10000 + 0.9 × 20000 = 28000
    // completion: A 0.5, C 1 → 0.75. confirmation: A 1, B 0 → 0.5. density: A 1, B 0, C 0 → 1/3.
    // drop-off: A only, of 3 → 1/3
    expect(res.body).toEqual({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-10T00:00:00.000Z',
      sessions: 3,
      timeToFirstDraft: { sessions: 2, avgMs: 20000, p50Ms: 20000, p90Ms: 28000 },
      completionRateMean: 0.75,
      confirmationRateMean: 0.5,
      signalDensityMean: expect.closeTo(1 / 3, 10),
      dropOffRate: expect.closeTo(1 / 3, 10),
    });
  });

  it('reads range bounds written without an offset as UTC, not the server time zone', async () => {
    // The sessions of the test above. [2026-03-09T00:00Z, 2026-03-10T00:00Z) holds C only (D starts on `to`).
    const res = await t.request({
      url: `/v1/projects/${p.id}/stats/session-metrics?from=2026-03-09T00:00:00&to=2026-03-10T00:00:00`,
      key: p.keys.read,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ from: '2026-03-09T00:00:00.000Z', to: '2026-03-10T00:00:00.000Z', sessions: 1, completionRateMean: 1 });
  });

  it('rejects a range that ends before it starts', async () => {
    const back = await t.request({
      url: `/v1/projects/${p.id}/stats/session-metrics?from=2026-03-10T00:00:00Z&to=2026-03-01T00:00:00Z`,
      key: p.keys.read,
    });
    expect(back.status).toBe(400);
    expect(back.body.errors.map((e: { field: string }) => e.field)).toEqual(['from']);
  });

  it('takes either bound alone, or none, as GET …/stats/sessions does', async () => {
    const stats = async (query: string) => (await t.request({ url: `/v1/projects/${p.id}/stats/session-metrics${query}`, key: p.keys.read })).body;
    // from 03-10 on: D only (one draft at its start: 0 ms)
    expect(await stats('?from=2026-03-10T00:00:00Z')).toMatchObject({
      from: '2026-03-10T00:00:00.000Z',
      to: null,
      sessions: 1,
      timeToFirstDraft: { sessions: 1, avgMs: 0 },
    });
    // before 03-09: A and B
    expect(await stats('?to=2026-03-09T00:00:00Z')).toMatchObject({ from: null, to: '2026-03-09T00:00:00.000Z', sessions: 2 });
    // all completed sessions with metrics: A, B, C, D (E is active)
    expect(await stats('')).toMatchObject({ from: null, to: null, sessions: 4 });
  });
});

describe('session metrics pipeline: queue triggers, sweep and retries', () => {
  let t: TestApp;
  let p: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp({ env: { JOBS_ENABLED: 'true', SESSION_METRICS_BATCH_SIZE: '3' } });
    p = await createProject(t);
  });
  afterAll(() => t.close());

  const metricsCount = async (ids: string[]) =>
    (await t.sql(`SELECT count(*)::int AS n FROM session_metrics WHERE project_id = $1 AND session_id = ANY($2)`, [p.id, ids]))[0].n;
  const jobs = (name: string) => t.sql(`SELECT name, state, retry_count FROM pgboss.job WHERE name = $1 ORDER BY created_on`, [name]);

  it('computes metrics for sessions handed on as completed, in batches, and skips them when handed on again', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await createSession(t, p.id, { events: drafting }));
    const service = t.get(SessionMetricsService);
    expect(await service.enqueueCompleted(p.id, ids)).toEqual({ sessions: 7, jobs: 3 });
    await until(
      () => metricsCount(ids),
      (n) => n === 7,
    );
    expect(await metricsCount(ids)).toBe(7);
    await service.enqueueCompleted(p.id, ids);
    await until(
      () => jobs('session-metrics'),
      (rows) => rows.length === 6 && rows.every((r) => r.state === 'completed'),
    );
    const runs = await t.sql(`SELECT session_id, count(*)::int AS n FROM pipeline_runs WHERE session_id = ANY($1) GROUP BY session_id`, [ids]);
    expect(runs).toHaveLength(7);
    expect(runs.every((r: { n: number }) => r.n === 1)).toBe(true);
  });

  it('dead-letters a job naming a session that is not completed or a malformed id, without retries or metrics', async () => {
    const active = await createSession(t, p.id, { events: drafting, status: 'active' });
    const done = await createSession(t, p.id, { events: drafting });
    await t.get(QueueService).send('session-metrics', { projectId: p.id, sessionIds: [active, done, 'y'.repeat(200)] });
    const rows = await until(
      () => jobs('session-metrics.dead'),
      (r) => r.length === 1,
      15_000,
    );
    expect(rows).toHaveLength(1);
    const runs = await t.sql(`SELECT session_id, status, error_code, attempt FROM pipeline_runs WHERE session_id = ANY($1) ORDER BY session_id`, [
      [active, done, 'y'.repeat(200)],
    ]);
    expect(runs).toEqual(
      expect.arrayContaining([
        { session_id: active, status: 'failed', error_code: 'SESSION_NOT_COMPLETED', attempt: 1 },
        { session_id: done, status: 'succeeded', error_code: null, attempt: 1 },
        { session_id: 'y'.repeat(200), status: 'failed', error_code: 'SESSION_ID_INVALID', attempt: 1 },
      ]),
    );
    expect(runs).toHaveLength(3);
    expect(await metricsCount([active])).toBe(0);
  });

  it('dead-letters a job without session ids at once', async () => {
    await t.get(QueueService).send('session-metrics', { projectId: p.id });
    const rows = await until(
      () => jobs('session-metrics.dead'),
      (r) => r.length === 2,
      15_000,
    );
    expect(rows).toHaveLength(2);
  });

  it('sweeps completed sessions without metrics and those with late events, not the current or active ones', async () => {
    const missing = await createSession(t, p.id, { events: drafting, base: BASE });
    const late = await createSession(t, p.id, { events: drafting, base: BASE });
    const current = await createSession(t, p.id, { events: drafting, base: BASE });
    await createSession(t, p.id, { events: drafting, status: 'active' });
    for (const id of [late, current]) {
      expect((await t.request({ method: 'POST', url: `/v1/projects/${p.id}/sessions/${id}/metrics/recompute`, key: p.keys.admin })).status).toBe(200);
    }
    // a late confirmation: 2 of 1 drafts confirmed now
    await addLateEvents(t, p.id, late, BASE, [ev('draft_confirmed', 100)]);
    const run = await t.request({ method: 'POST', url: '/v1/jobs/session-metrics-sweep/runs?wait=true' });
    expect(run.body).toMatchObject({ status: 'succeeded', counts: { sessionsEnqueued: 2, jobsEnqueued: 1 } });
    const lateMetrics = await until(
      () => t.request({ url: `/v1/projects/${p.id}/sessions/${late}/metrics`, key: p.keys.read }),
      (r) => r.body.confirmationRate === 2,
    );
    expect(lateMetrics.body.confirmationRate).toBe(2);
    await until(
      () => metricsCount([missing]),
      (n) => n === 1,
    );
    expect(await metricsCount([missing])).toBe(1);
    const again = await t.request({ method: 'POST', url: '/v1/jobs/session-metrics-sweep/runs?wait=true' });
    expect(again.body.counts).toEqual({ sessionsEnqueued: 0, jobsEnqueued: 0 });
  });

  it('retries a job whose write fails during a database outage and succeeds once the database is back', async () => {
    const id = await createSession(t, p.id, { events: drafting });
    // The first two attempts fail (a sequence is not rolled back with the failed transaction).
    await t.sql(`CREATE SEQUENCE outage_attempts`);
    await t.sql(`CREATE FUNCTION outage() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF nextval('outage_attempts') <= 2 THEN RAISE EXCEPTION 'the database is unavailable'; END IF; RETURN NEW; END $$`);
    await t.sql(`CREATE TRIGGER outage BEFORE INSERT ON session_metrics FOR EACH ROW EXECUTE FUNCTION outage()`);
    try {
      await t.get(SessionMetricsService).enqueueCompleted(p.id, [id]);
      await until(
        () => metricsCount([id]),
        (n) => n === 1,
        30_000,
      );
    } finally {
      await t.sql(`DROP TRIGGER outage ON session_metrics`);
      await t.sql(`DROP FUNCTION outage()`);
    }
    expect(await metricsCount([id])).toBe(1);
    const runs = await t.sql(`SELECT status, error_code, attempt FROM pipeline_runs WHERE session_id = $1 ORDER BY attempt`, [id]);
    expect(runs).toEqual([
      { status: 'failed', error_code: 'METRICS_PERSIST_FAILED', attempt: 1 },
      { status: 'failed', error_code: 'METRICS_PERSIST_FAILED', attempt: 2 },
      { status: 'succeeded', error_code: null, attempt: 3 },
    ]);
  }, 40_000);
});
