import { FixedClock } from '../../src/common/clock/clock.js';
import { aggregate, ingest, pageview } from '../factories/events.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/wait.js';

describe('metrics pipeline fed by the session aggregation', () => {
  let t: TestApp;
  let project: ProjectFixture;
  const clock = new FixedClock(new Date('2026-05-04T12:00:00Z'));

  beforeAll(async () => {
    t = await startTestApp({ env: { JOBS_ENABLED: 'true' }, clock });
    project = await createProject(t);
  });
  afterAll(() => t.close());

  const metricsOf = (sessionId: string) => t.request({ url: `/v1/projects/${project.id}/sessions/${sessionId}/metrics`, key: project.keys.read });

  it('computes metrics for a session the aggregation completes, and again after late events', async () => {
    // 10:00:00 pageview, 10:01:00 draft_created, 10:03:00 draft_confirmed, 10:04:00 session_end.
    await ingest(t, project, [
      pageview('s-1', '/', '2026-05-04T10:00:00Z'),
      { sessionId: 's-1', type: 'draft_created', occurredAt: '2026-05-04T10:01:00Z' },
      { sessionId: 's-1', type: 'signal', occurredAt: '2026-05-04T10:02:00Z' },
      { sessionId: 's-1', type: 'draft_confirmed', occurredAt: '2026-05-04T10:03:00Z' },
      { sessionId: 's-1', type: 'session_end', occurredAt: '2026-05-04T10:04:00Z' },
    ]);
    await aggregate(t);
    const first = await until(
      () => metricsOf('s-1'),
      (r) => r.status === 200,
    );
    // time to first draft 60 s; 1 signal over 4 minutes = 0.25/min; 1 confirmed / 1 created.
    expect(first.body).toMatchObject({ sessionId: 's-1', timeToFirstDraftMs: 60_000, confirmationRate: 1, signalDensity: 0.25, droppedOff: false });

    // A late second draft, never confirmed: confirmation 1/2, and the session is handed on again.
    await ingest(t, project, [{ sessionId: 's-1', type: 'draft_created', occurredAt: '2026-05-04T10:03:30Z' }]);
    clock.advance(60_000);
    await aggregate(t);
    const second = await until(
      () => metricsOf('s-1'),
      (r) => r.body.confirmationRate === 0.5,
    );
    expect(second.body).toMatchObject({ timeToFirstDraftMs: 60_000, confirmationRate: 0.5 });

    // The pipeline recorded its processing time through the operational-metrics collector.
    const recorded = await t.sql(
      `SELECT count(*)::int AS n FROM operational_metrics WHERE metric_type = 'processing_time' AND labels->>'actor' = 'session-metrics'`,
    );
    expect(recorded[0].n).toBeGreaterThanOrEqual(2);
  });

  it('answers no metrics for a measured session a late event made active again, and new ones once it completes', async () => {
    clock.set('2026-05-04T12:01:00Z');
    // completed by the timeout (30 minutes): 1 signal over 2 minutes = 0.5/min
    await ingest(t, project, [
      pageview('s-2', '/', '2026-05-04T11:00:00Z'),
      { sessionId: 's-2', type: 'signal', occurredAt: '2026-05-04T11:02:00Z' },
    ]);
    await aggregate(t);
    const first = await until(
      () => metricsOf('s-2'),
      (r) => r.status === 200,
    );
    expect(first.body).toMatchObject({ signalDensity: 0.5 });

    // a signal a minute ago: the session is active again, and its stored figures leave that event out
    await ingest(t, project, [{ sessionId: 's-2', type: 'signal', occurredAt: new Date(clock.now().getTime() - 60_000).toISOString() }]);
    await aggregate(t);
    const [session] = await t.sql(`SELECT status FROM sessions WHERE project_id = $1 AND session_id = 's-2'`, [project.id]);
    expect(session.status).toBe('active');
    const meanwhile = await metricsOf('s-2');
    expect(meanwhile.status).toBe(404);
    expect(meanwhile.body.code).toBe('SESSION_METRICS_NOT_FOUND');

    // completed again after the timeout: 2 signals over 11:00:00 .. 12:00:00 (the clock is at 12:01) = 2/60 per minute
    clock.advance(40 * 60_000);
    await aggregate(t);
    // until the pipeline has measured it again (the stored row answers meanwhile)
    const again = await until(
      () => metricsOf('s-2'),
      (r) => r.status === 200 && r.body.computedAt !== first.body.computedAt,
    );
    expect(again.body.signalDensity).toBeCloseTo(2 / 60, 12);
  });
});
