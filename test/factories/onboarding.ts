import type { ProjectFixture } from './projects.js';
import type { TestApp, TestResponse } from '../support/test-app.js';

export interface CompleteOptions {
  key?: string | null;
  body?: unknown;
  idempotencyKey?: string;
}

/** POST …/users/{userId}/onboarding/steps/{step}/complete with the project's ingest key. */
export function completeStep(
  t: TestApp,
  project: ProjectFixture,
  userId: string,
  step: number | string,
  options: CompleteOptions = {},
): Promise<TestResponse> {
  return t.request({
    method: 'POST',
    url: `/v1/projects/${project.id}/users/${encodeURIComponent(userId)}/onboarding/steps/${step}/complete`,
    key: options.key === undefined ? project.keys.ingest : options.key,
    body: options.body ?? {},
    headers: options.idempotencyKey !== undefined ? { 'idempotency-key': options.idempotencyKey } : {},
  });
}

/** Makes every insert into kpi_events fail inside PostgreSQL, as a broken analytics store would. */
export async function breakKpiEventWrites(t: TestApp): Promise<void> {
  await t.sql(`
    CREATE OR REPLACE FUNCTION test_reject_kpi_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'analytics store unavailable (test trigger)'; END $$`);
  await t.sql(`CREATE TRIGGER test_reject_kpi_event BEFORE INSERT ON kpi_events FOR EACH ROW EXECUTE FUNCTION test_reject_kpi_event()`);
}

export async function repairKpiEventWrites(t: TestApp): Promise<void> {
  await t.sql(`DROP TRIGGER IF EXISTS test_reject_kpi_event ON kpi_events`);
}

/** Counts of the onboarding tables for one project: what a request recorded. */
export async function recorded(t: TestApp, projectId: string) {
  const [row] = await t.sql(
    `SELECT (SELECT count(*)::int FROM onboarding_completions WHERE project_id = $1) AS completions,
            (SELECT count(*)::int FROM kpi_event_outbox WHERE project_id = $1) AS outbox,
            (SELECT count(*)::int FROM kpi_events WHERE project_id = $1) AS "kpiEvents",
            (SELECT count(*)::int FROM idempotency_keys WHERE project_id = $1) AS "idempotencyKeys"`,
    [projectId],
  );
  return row as { completions: number; outbox: number; kpiEvents: number; idempotencyKeys: number };
}

export function runJob(t: TestApp, name: string): Promise<TestResponse> {
  return t.request({ method: 'POST', url: `/v1/jobs/${name}/runs?wait=true`, body: {} });
}
