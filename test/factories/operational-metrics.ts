import type { TestApp } from '../support/test-app.js';

export interface RawMetricRow {
  projectId: string;
  type: 'queue_depth' | 'processing_time' | 'error' | 'token_usage' | 'confidence';
  value: number;
  /** Already canonical: the factory stores what it is given. */
  labels?: Record<string, string>;
  labelsKey?: string;
  recordedAt: string;
  /** SQL expression for received_at; default now(). */
  receivedAt?: string;
}

/** Raw rows written straight into the table, as if recorded earlier (the API refuses old times). */
export async function insertRawMetrics(t: TestApp, rows: RawMetricRow[]): Promise<void> {
  for (const row of rows) {
    await t.sql(
      `INSERT INTO operational_metrics (project_id, metric_type, value, labels, labels_key, recorded_at, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, ${row.receivedAt ?? 'now()'})`,
      [row.projectId, row.type, row.value, JSON.stringify(row.labels ?? {}), row.labelsKey ?? '', row.recordedAt],
    );
  }
}

/** Runs a job through the admin API and returns the finished run. */
export async function runJob(t: TestApp, name: string): Promise<{ status: string; counts: Record<string, unknown>; error: string | null }> {
  const res = await t.request({ method: 'POST', url: `/v1/jobs/${name}/runs?wait=true`, body: {} });
  if (res.status !== 200) throw new Error(`job ${name} not run: ${res.status} ${res.text}`);
  return res.body;
}
