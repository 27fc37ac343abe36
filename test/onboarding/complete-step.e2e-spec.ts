import { FixedClock } from '../../src/common/clock/clock.js';
import { breakKpiEventWrites, completeStep, recorded, repairKpiEventWrites, runJob } from '../factories/onboarding.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const NOW = '2025-11-20T10:00:00.000Z';

describe('onboarding step completion and its KPI event', () => {
  let t: TestApp;
  const clock = new FixedClock(new Date(NOW));

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(() => t.close());

  let project: ProjectFixture;
  beforeEach(async () => {
    clock.set(NOW);
    project = await createProject(t);
  });

  it('lists the default steps 1–5 with their canonical KPI ids', async () => {
    const res = await t.request({ url: `/v1/projects/${project.id}/onboarding/steps`, key: project.keys.read });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      source: 'default',
      data: [1, 2, 3, 4, 5].map((n) => ({ step: n, name: `Step ${n}`, kpiId: `kpi.onboarding.step_${n}_completed` })),
    });
  });

  it('completes step 1 and records one KPI event with KPI id, time, user and metadata', async () => {
    const res = await completeStep(t, project, 'user-1', 1, { body: { source: 'web-onboarding', metadata: { plan: 'trial' } } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      userId: 'user-1',
      step: 1,
      completedAt: NOW,
      alreadyCompleted: false,
      kpiEvent: { id: expect.stringMatching(/^[0-9a-f-]{36}$/), kpiId: 'kpi.onboarding.step_1_completed', status: 'recorded' },
    });
    const events = await t.sql(`SELECT id, kpi_id, user_id, occurred_at, metadata FROM kpi_events WHERE project_id = $1`, [project.id]);
    expect(events).toEqual([
      {
        id: res.body.kpiEvent.id,
        kpi_id: 'kpi.onboarding.step_1_completed',
        user_id: 'user-1',
        occurred_at: new Date(NOW),
        metadata: { plan: 'trial', step: 1, source: 'web-onboarding' },
      },
    ]);
    expect(await recorded(t, project.id)).toEqual({ completions: 1, outbox: 1, kpiEvents: 1, idempotencyKeys: 0 });
  });

  it('names the source "api" when the client sends none', async () => {
    const res = await completeStep(t, project, 'user-1', 1);
    const [event] = await t.sql(`SELECT metadata FROM kpi_events WHERE id = $1`, [res.body.kpiEvent.id]);
    expect(event.metadata).toEqual({ step: 1, source: 'api' });
  });

  it.each([
    ['an unknown body field', 1, { body: { source: 'web', extra: 1 } }, 'extra'],
    ['a source longer than 64 characters', 1, { body: { source: 'x'.repeat(65) } }, 'source'],
    ['a source that is not a string', 1, { body: { source: 7 } }, 'source'],
    ['metadata that is an array', 1, { body: { metadata: [1] } }, 'metadata'],
    ['metadata over 4 KiB', 1, { body: { metadata: { blob: 'x'.repeat(4096) } } }, 'metadata'],
    ['step 0', 0, {}, 'step'],
    ['a step that is not a number', 'first', {}, 'step'],
    ['an Idempotency-Key with a space', 1, { idempotencyKey: 'a b' }, 'Idempotency-Key'],
    ['an Idempotency-Key of 256 characters', 1, { idempotencyKey: 'k'.repeat(256) }, 'Idempotency-Key'],
  ])('rejects %s with VALIDATION_FAILED and records nothing', async (_, step, options, field) => {
    const res = await completeStep(t, project, 'user-1', step, options);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect(await recorded(t, project.id)).toEqual({ completions: 0, outbox: 0, kpiEvents: 0, idempotencyKeys: 0 });
  });

  it('rejects a user id of 129 characters and a malformed JSON body, recording nothing', async () => {
    const long = await completeStep(t, project, 'u'.repeat(129), 1);
    expect(long.status).toBe(400);
    expect(long.body.errors[0].field).toBe('userId');
    const malformed = await t.request({
      method: 'POST',
      url: `/v1/projects/${project.id}/users/u/onboarding/steps/1/complete`,
      key: project.keys.ingest,
      payload: '{"source":',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('MALFORMED_JSON');
    expect(await recorded(t, project.id)).toEqual({ completions: 0, outbox: 0, kpiEvents: 0, idempotencyKeys: 0 });
  });

  it("answers 401 without a valid key and 403 to a read key or another project's key, recording nothing", async () => {
    const other = await createProject(t, { name: 'Other' });
    expect((await completeStep(t, project, 'user-1', 1, { key: null })).status).toBe(401);
    expect((await completeStep(t, project, 'user-1', 1, { key: 'tm_bogus' })).body.code).toBe('UNAUTHENTICATED');
    const readKey = await completeStep(t, project, 'user-1', 1, { key: project.keys.read });
    expect([readKey.status, readKey.body.code]).toEqual([403, 'FORBIDDEN']);
    const foreign = await completeStep(t, project, 'user-1', 1, { key: other.keys.ingest });
    expect([foreign.status, foreign.body.code]).toEqual([403, 'FORBIDDEN']);
    expect(await recorded(t, project.id)).toEqual({ completions: 0, outbox: 0, kpiEvents: 0, idempotencyKeys: 0 });
  });

  it('rejects step 3 before steps 1 and 2 with ONBOARDING_STEP_NOT_ELIGIBLE naming the missing steps', async () => {
    const res = await completeStep(t, project, 'user-1', 3, { idempotencyKey: 'k-3' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'ONBOARDING_STEP_NOT_ELIGIBLE', missingSteps: [1, 2] });
    expect(await recorded(t, project.id)).toEqual({ completions: 0, outbox: 0, kpiEvents: 0, idempotencyKeys: 0 });
    await completeStep(t, project, 'user-1', 1);
    const still = await completeStep(t, project, 'user-1', 3);
    expect(still.body.missingSteps).toEqual([2]);
  });

  it('rejects a step the project does not have with ONBOARDING_STEP_NOT_FOUND', async () => {
    const res = await completeStep(t, project, 'user-1', 6);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('ONBOARDING_STEP_NOT_FOUND');
    // any well-formed step number the project lacks is a 404, however large (up to PostgreSQL's integer)
    for (const step of [101, 999, 2147483647]) {
      const missing = await completeStep(t, project, 'user-1', step);
      expect([step, missing.status, missing.body.code]).toEqual([step, 404, 'ONBOARDING_STEP_NOT_FOUND']);
    }
    const beyond = await completeStep(t, project, 'user-1', 2147483648);
    expect([beyond.status, beyond.body.errors[0].field]).toEqual([400, 'step']);
    expect(await recorded(t, project.id)).toEqual({ completions: 0, outbox: 0, kpiEvents: 0, idempotencyKeys: 0 });
  });

  it('answers a repeat of a completed step with the first completion and creates no second KPI event', async () => {
    const first = await completeStep(t, project, 'user-1', 1, { body: { source: 'web' } });
    clock.advance(60_000);
    const repeat = await completeStep(t, project, 'user-1', 1, { body: { source: 'mobile' } });
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual({ ...first.body, alreadyCompleted: true });
    expect(await recorded(t, project.id)).toEqual({ completions: 1, outbox: 1, kpiEvents: 1, idempotencyKeys: 0 });
  });

  it('returns the first answer when the client retries a request whose response it lost (same Idempotency-Key)', async () => {
    const sent = await completeStep(t, project, 'user-1', 1, { idempotencyKey: 'retry-me', body: { source: 'web' } });
    clock.advance(5_000);
    const resent = await completeStep(t, project, 'user-1', 1, { idempotencyKey: 'retry-me', body: { source: 'web' } });
    expect(resent.status).toBe(200);
    expect(resent.body).toEqual(sent.body);
    expect(resent.body.alreadyCompleted).toBe(false);
    expect(await recorded(t, project.id)).toEqual({ completions: 1, outbox: 1, kpiEvents: 1, idempotencyKeys: 1 });
  });

  it('rejects the same Idempotency-Key with a different request with IDEMPOTENCY_KEY_REUSED', async () => {
    await completeStep(t, project, 'user-1', 1, { idempotencyKey: 'once', body: { source: 'web' } });
    const otherBody = await completeStep(t, project, 'user-1', 1, { idempotencyKey: 'once', body: { source: 'mobile' } });
    expect(otherBody.status).toBe(422);
    expect(otherBody.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const otherStep = await completeStep(t, project, 'user-1', 2, { idempotencyKey: 'once', body: { source: 'web' } });
    expect(otherStep.status).toBe(422);
    expect(await recorded(t, project.id)).toEqual({ completions: 1, outbox: 1, kpiEvents: 1, idempotencyKeys: 1 });
  });

  it('treats metadata with the same members in another order as the same request', async () => {
    const a = await completeStep(t, project, 'user-1', 1, { idempotencyKey: 'ordered', body: { metadata: { a: 1, b: { c: 2, d: 3 } } } });
    const b = await completeStep(t, project, 'user-1', 1, { idempotencyKey: 'ordered', body: { metadata: { b: { d: 3, c: 2 }, a: 1 } } });
    expect(b.status).toBe(200);
    expect(b.body).toEqual(a.body);
  });

  it('gives one completion and one KPI event for ten concurrent identical requests', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => completeStep(t, project, 'user-1', 1, { body: { source: 'web' } })));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(answers.filter((a) => !a.body.alreadyCompleted)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.body.kpiEvent.id)).size).toBe(1);
    expect(new Set(answers.map((a) => a.body.completedAt)).size).toBe(1);
    expect(await recorded(t, project.id)).toEqual({ completions: 1, outbox: 1, kpiEvents: 1, idempotencyKeys: 0 });
  });

  it('gives ten identical first answers for ten concurrent requests with one Idempotency-Key', async () => {
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => completeStep(t, project, 'user-1', 1, { idempotencyKey: 'burst', body: { source: 'web' } })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    for (const answer of answers) expect(answer.body).toEqual({ ...answers[0].body, alreadyCompleted: false });
    expect(await recorded(t, project.id)).toEqual({ completions: 1, outbox: 1, kpiEvents: 1, idempotencyKeys: 1 });
  });

  it('keeps the completion and flags the KPI event failed when the step has no KPI id; the retry job records it once mapped', async () => {
    await t.sql(
      `INSERT INTO onboarding_steps (project_id, step, name, kpi_id) VALUES
         ($1, 1, 'Create workspace', 'kpi.onboarding.step_1_completed'), ($1, 2, 'Invite a teammate', NULL)`,
      [project.id],
    );
    await completeStep(t, project, 'user-1', 1);
    const res = await completeStep(t, project, 'user-1', 2);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ step: 2, alreadyCompleted: false, kpiEvent: { kpiId: null, status: 'failed' } });
    const [outbox] = await t.sql(`SELECT status, failure_reason, attempts FROM kpi_event_outbox WHERE event_id = $1`, [res.body.kpiEvent.id]);
    expect(outbox).toEqual({ status: 'failed', failure_reason: expect.stringMatching(/^KPI_EVENT_INVALID: kpiId is missing/), attempts: 1 });
    expect(await recorded(t, project.id)).toEqual({ completions: 2, outbox: 2, kpiEvents: 1, idempotencyKeys: 0 });

    const stillUnmapped = await runJob(t, 'kpi-event-retry');
    expect(stillUnmapped.body).toMatchObject({ status: 'succeeded', counts: { retried: 1, recorded: 0, failed: 1 } });

    await t.sql(`UPDATE onboarding_steps SET kpi_id = 'kpi.onboarding.step_2_completed' WHERE project_id = $1 AND step = 2`, [project.id]);
    const mapped = await runJob(t, 'kpi-event-retry');
    expect(mapped.body).toMatchObject({ status: 'succeeded', counts: { retried: 1, recorded: 1, failed: 0 } });
    const events = await t.sql(`SELECT id, kpi_id FROM kpi_events WHERE project_id = $1 AND metadata->>'step' = '2'`, [project.id]);
    expect(events).toEqual([{ id: res.body.kpiEvent.id, kpi_id: 'kpi.onboarding.step_2_completed' }]);
  });

  it('keeps the completion when kpi_events rejects the write, records the failure, and the retry job records exactly one event', async () => {
    await breakKpiEventWrites(t);
    let res;
    try {
      res = await completeStep(t, project, 'user-1', 1, { body: { source: 'web' } });
    } finally {
      await repairKpiEventWrites(t);
    }
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ alreadyCompleted: false, kpiEvent: { kpiId: 'kpi.onboarding.step_1_completed', status: 'failed' } });
    expect(await recorded(t, project.id)).toEqual({ completions: 1, outbox: 1, kpiEvents: 0, idempotencyKeys: 0 });
    const [outbox] = await t.sql(`SELECT status, failure_reason FROM kpi_event_outbox WHERE event_id = $1`, [res.body.kpiEvent.id]);
    expect(outbox.status).toBe('failed');
    expect(outbox.failure_reason).toMatch(/^KPI_EVENT_WRITE_FAILED: .*analytics store unavailable \(test trigger\)/);

    const metrics = await t.request({ url: '/metrics', key: null });
    expect(metrics.text).toMatch(/trailmark_kpi_events_total\{outcome="failed",trigger="request"\} [1-9]/);
    expect(metrics.text).toMatch(/trailmark_errors_total\{actor="kpi-event",code="KPI_EVENT_WRITE_FAILED"\} 1\n/);

    // The step is completed, so the next step is eligible even though its predecessor's KPI event is not yet recorded.
    expect((await completeStep(t, project, 'user-1', 2)).body.kpiEvent.status).toBe('recorded');

    const retry = await runJob(t, 'kpi-event-retry');
    expect(retry.body).toMatchObject({ status: 'succeeded', counts: { retried: 1, recorded: 1, failed: 0 } });
    const again = await runJob(t, 'kpi-event-retry');
    expect(again.body.counts).toEqual({ retried: 0, recorded: 0, failed: 0 });
    const events = await t.sql(`SELECT id, metadata FROM kpi_events WHERE project_id = $1 AND metadata->>'step' = '1'`, [project.id]);
    expect(events).toEqual([{ id: res.body.kpiEvent.id, metadata: { step: 1, source: 'web' } }]);
    const progress = await t.request({ url: `/v1/projects/${project.id}/users/user-1/onboarding`, key: project.keys.read });
    expect(progress.body.steps[0].kpiEvent).toEqual({ id: res.body.kpiEvent.id, kpiId: 'kpi.onboarding.step_1_completed', status: 'recorded' });
  });

  it("shows a user's progress per step", async () => {
    await completeStep(t, project, 'user-1', 1);
    clock.advance(60_000);
    const second = await completeStep(t, project, 'user-1', 2);
    const res = await t.request({ url: `/v1/projects/${project.id}/users/user-1/onboarding`, key: project.keys.read });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ userId: 'user-1', completedSteps: 2, totalSteps: 5, nextStep: 3 });
    expect(res.body.steps.map((s: { completed: boolean; completedAt: string | null }) => [s.completed, s.completedAt])).toEqual([
      [true, NOW],
      [true, '2025-11-20T10:01:00.000Z'], // NOW + 60 s
      [false, null],
      [false, null],
      [false, null],
    ]);
    expect(res.body.steps[1].kpiEvent).toEqual(second.body.kpiEvent);
    const stranger = await t.request({ url: `/v1/projects/${project.id}/users/nobody/onboarding`, key: project.keys.read });
    expect(stranger.body).toMatchObject({ completedSteps: 0, nextStep: 1 });
  });
});
