import type { ProjectFixture } from './projects.js';
import type { TestApp } from '../support/test-app.js';

export interface EventInput {
  eventId?: string;
  sessionId: string;
  type: string;
  occurredAt: string;
  url?: string;
  name?: string;
  userId?: string;
  referrer?: string;
  properties?: Record<string, unknown>;
}

/** Sends events through the ingestion API and fails loudly unless every one is accepted. */
export async function ingest(t: TestApp, project: ProjectFixture, events: EventInput[]): Promise<void> {
  const res = await t.request({ method: 'POST', url: `/v1/projects/${project.id}/events`, key: project.keys.ingest, body: { events } });
  if (res.status !== 200 || res.body.rejected.length) throw new Error(`events not ingested: ${res.status} ${res.text}`);
}

/** A pageview at `path` (`at` as an ISO time). */
export function pageview(sessionId: string, path: string, at: string, extra: Partial<EventInput> = {}): EventInput {
  return { sessionId, type: 'pageview', url: `https://shop.example${path}`, occurredAt: at, ...extra };
}

/** Runs the session-aggregation job to its end through the jobs API; returns the run's counts. */
export async function aggregate(t: TestApp, full = false): Promise<Record<string, number>> {
  const res = await t.request({
    method: 'POST',
    url: '/v1/jobs/session-aggregation/runs?wait=true',
    body: full ? { full: true } : {},
  });
  if (res.status !== 200 || res.body.status !== 'succeeded') throw new Error(`aggregation failed: ${res.status} ${res.text}`);
  return res.body.counts;
}

export async function getSession(t: TestApp, project: ProjectFixture, sessionId: string) {
  const res = await t.request({ url: `/v1/projects/${project.id}/sessions/${encodeURIComponent(sessionId)}`, key: project.keys.read });
  return res;
}
