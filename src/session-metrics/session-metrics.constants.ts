/** Names the metrics pipeline shares between its trigger, its worker and its docs. */

/** The durable queue: one job per small batch of session ids of one project. */
export const SESSION_METRICS_QUEUE = 'session-metrics';

/** The scheduled job that re-hands completed sessions without current metrics. */
export const SESSION_METRICS_SWEEP_JOB = 'session-metrics-sweep';

/** What a queued job carries. `force` recomputes even when the stored metrics are current. */
export interface SessionMetricsJobData {
  projectId: string;
  sessionIds: string[];
  force?: boolean;
}

/** Spec §3: a session id is 1–128 characters. */
export const SESSION_ID_MAX_LENGTH = 128;

export function isValidSessionId(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= SESSION_ID_MAX_LENGTH;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
