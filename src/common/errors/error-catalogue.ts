/**
 * Every error code the API can answer with, its HTTP status and title: the one catalogue the
 * problem filter renders from and the OpenAPI document lists. Domain code throws
 * `new AppError('SESSION_NOT_FOUND', detail)`; nothing else decides a status.
 */
export const ERROR_CATALOGUE = {
  // Request shape and transport
  VALIDATION_FAILED: { status: 400, title: 'The request is not valid' },
  MALFORMED_JSON: { status: 400, title: 'The request body is not valid JSON' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request body must be application/json' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed on this route' },
  // Access
  UNAUTHENTICATED: { status: 401, title: 'A valid API key is required' },
  FORBIDDEN: { status: 403, title: 'This API key may not do this' },
  // Tenancy
  PROJECT_NOT_FOUND: { status: 404, title: 'Project not found' },
  API_KEY_NOT_FOUND: { status: 404, title: 'API key not found' },
  // Sessions and funnels
  SESSION_NOT_FOUND: { status: 404, title: 'Session not found' },
  FUNNEL_NOT_FOUND: { status: 404, title: 'Funnel not found' },
  FUNNEL_READ_ONLY: { status: 409, title: 'The built-in funnel cannot be changed' },
  // Jobs
  JOB_NOT_FOUND: { status: 404, title: 'Job not found' },
  JOB_RUN_NOT_FOUND: { status: 404, title: 'Job run not found' },
  JOB_ALREADY_RUNNING: { status: 409, title: 'A run of this job is already in flight' },
  // Onboarding and KPI events
  ONBOARDING_STEP_NOT_FOUND: { status: 404, title: 'No such onboarding step in this project' },
  ONBOARDING_STEP_NOT_ELIGIBLE: { status: 409, title: 'Earlier onboarding steps are not completed' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'This Idempotency-Key was used for a different request' },
  // Recorded as a KPI event's failure reason (the completion itself succeeds), never answered.
  KPI_EVENT_INVALID: { status: 500, title: 'The KPI analytics event could not be built' },
  KPI_EVENT_WRITE_FAILED: { status: 500, title: 'The KPI analytics event could not be stored' },
  // Operational metrics: per-item rejection codes of POST /operational-metrics
  OPERATIONAL_METRIC_INVALID: { status: 400, title: 'The metric is not an object of type, value, labels and recordedAt' },
  OPERATIONAL_METRIC_TYPE_UNKNOWN: { status: 400, title: 'Unknown operational metric type' },
  OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE: { status: 400, title: 'The value is not allowed for this metric type' },
  OPERATIONAL_METRIC_LABELS_INVALID: { status: 400, title: 'Unknown label or label value out of range' },
  OPERATIONAL_METRIC_TIME_IN_FUTURE: { status: 400, title: 'recordedAt is more than 5 minutes in the future' },
  OPERATIONAL_METRIC_TIME_TOO_OLD: { status: 400, title: 'recordedAt is older than the raw retention' },
  // Sessions and their quality metrics
  SESSION_ID_INVALID: { status: 400, title: 'The session id is missing or malformed' },
  SESSION_NOT_COMPLETED: { status: 409, title: 'The session is not completed yet' },
  SESSION_DATA_INVALID: { status: 422, title: 'The session data cannot give valid metrics' },
  SESSION_METRICS_NOT_FOUND: { status: 404, title: 'No metrics for this session yet' },
  METRICS_PERSIST_FAILED: { status: 503, title: 'Session metrics could not be stored' },
  PIPELINE_RUN_RECORD_FAILED: { status: 500, title: 'The metrics pipeline run could not be recorded' },
  // Metrics read model
  METRIC_NOT_FOUND: { status: 404, title: 'No such metric in the catalogue' },
  METRICS_SUMMARY_NOT_FOUND: { status: 404, title: 'No metrics summary snapshot yet' },
  // Server side
  SERVICE_UNAVAILABLE: { status: 503, title: 'The service is not ready' },
  INTERNAL_ERROR: { status: 500, title: 'Internal server error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

/** The `type` URI of a problem: stable, and documented in the OpenAPI description. */
export function problemType(code: ErrorCode): string {
  return `https://trailmark.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`;
}
