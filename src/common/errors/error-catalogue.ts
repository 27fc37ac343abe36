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
  // Jobs
  JOB_NOT_FOUND: { status: 404, title: 'Job not found' },
  JOB_RUN_NOT_FOUND: { status: 404, title: 'Job run not found' },
  JOB_ALREADY_RUNNING: { status: 409, title: 'A run of this job is already in flight' },
  // Sessions and their quality metrics
  SESSION_ID_INVALID: { status: 400, title: 'The session id is missing or malformed' },
  SESSION_NOT_FOUND: { status: 404, title: 'Session not found' },
  SESSION_NOT_COMPLETED: { status: 409, title: 'The session is not completed yet' },
  SESSION_DATA_INVALID: { status: 422, title: 'The session data cannot give valid metrics' },
  SESSION_METRICS_NOT_FOUND: { status: 404, title: 'No metrics for this session yet' },
  METRICS_PERSIST_FAILED: { status: 503, title: 'Session metrics could not be stored' },
  PIPELINE_RUN_RECORD_FAILED: { status: 500, title: 'The metrics pipeline run could not be recorded' },
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
