import { randomUUID } from 'node:crypto';
import type { TestApp } from '../support/test-app.js';

/** Runs the metrics-compute job to its end through the jobs API; returns the run's counts. */
export async function computeMetrics(t: TestApp, full = false): Promise<Record<string, number>> {
  const res = await t.request({ method: 'POST', url: '/v1/jobs/metrics-compute/runs?wait=true', body: full ? { full: true } : {} });
  if (res.status !== 200 || res.body.status !== 'succeeded') throw new Error(`metrics compute failed: ${res.status} ${res.text}`);
  return res.body.counts;
}

export async function runMetricsRetention(t: TestApp): Promise<Record<string, number>> {
  const res = await t.request({ method: 'POST', url: '/v1/jobs/metrics-retention/runs?wait=true', body: {} });
  if (res.status !== 200 || res.body.status !== 'succeeded') throw new Error(`metrics retention failed: ${res.status} ${res.text}`);
  return res.body.counts;
}

export interface QualitySpec {
  timeToFirstDraftMs?: number | null;
  completionRate?: number | null;
  confirmationRate?: number | null;
  signalDensity?: number;
  dropOffStep?: string | null;
}

/** A session_metrics row written straight into the table, as the metrics pipeline would store it. */
export async function insertSessionMetrics(t: TestApp, projectId: string, sessionId: string, m: QualitySpec): Promise<void> {
  await t.sql(
    `INSERT INTO session_metrics (project_id, session_id, time_to_first_draft_ms, completion_rate, confirmation_rate, signal_density,
                                  dropped_off, drop_off_step, session_aggregated_at, computed_at)
     SELECT $1, $2, $3::bigint, $4::float8, $5::float8, $6::float8, $7::text IS NOT NULL, $7::text, s.aggregated_at, now()
     FROM sessions s WHERE s.project_id = $1 AND s.session_id = $2
     ON CONFLICT (project_id, session_id) DO UPDATE SET
       time_to_first_draft_ms = excluded.time_to_first_draft_ms, completion_rate = excluded.completion_rate,
       confirmation_rate = excluded.confirmation_rate, signal_density = excluded.signal_density,
       dropped_off = excluded.dropped_off, drop_off_step = excluded.drop_off_step, computed_at = excluded.computed_at`,
    [
      projectId,
      sessionId,
      m.timeToFirstDraftMs ?? null,
      m.completionRate ?? null,
      m.confirmationRate ?? null,
      m.signalDensity ?? 0,
      m.dropOffStep ?? null,
    ],
  );
}

/** A recorded KPI event written straight into kpi_events; returns its id. */
export async function insertKpiEvent(
  t: TestApp,
  projectId: string,
  e: { kpiId: string; occurredAt: string; userId?: string; source?: string; step?: number },
): Promise<string> {
  const id = randomUUID();
  await t.sql(`INSERT INTO kpi_events (project_id, id, kpi_id, user_id, occurred_at, metadata, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $5)`, [
    projectId,
    id,
    e.kpiId,
    e.userId ?? 'u-1',
    e.occurredAt,
    JSON.stringify({ step: e.step ?? 1, source: e.source ?? 'api' }),
  ]);
  return id;
}
