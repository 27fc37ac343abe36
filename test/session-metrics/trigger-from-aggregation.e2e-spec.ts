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
});
