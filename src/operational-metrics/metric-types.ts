/**
 * The five operational metric types and the rule each value must meet: the one definition the
 * collector (service's own metrics) and the client API (per-item rejection) both apply.
 */
export const METRIC_TYPES = ['queue_depth', 'processing_time', 'error', 'token_usage', 'confidence'] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

export function isMetricType(value: unknown): value is MetricType {
  return typeof value === 'string' && (METRIC_TYPES as readonly string[]).includes(value);
}

/**
 * Counts and durations stop at 2^53 − 1, the largest integer a JSON number carries exactly: far
 * above any real value, and low enough that a day's sum of every project's rows stays a finite
 * double (two values of 1.8e308 made the rollup's sum overflow, failing it for every project).
 */
const MAX_VALUE = Number.MAX_SAFE_INTEGER;

const VALUE_RULES: Record<MetricType, { test: (v: number) => boolean; rule: string }> = {
  queue_depth: { test: (v) => Number.isSafeInteger(v) && v >= 0, rule: 'an integer from 0 to 2^53 − 1 (items waiting)' },
  processing_time: { test: (v) => v >= 0 && v <= MAX_VALUE, rule: 'from 0 to 2^53 − 1 (milliseconds)' },
  error: { test: (v) => Number.isSafeInteger(v) && v >= 1, rule: 'an integer from 1 to 2^53 − 1 (errors counted)' },
  token_usage: { test: (v) => Number.isSafeInteger(v) && v >= 0, rule: 'an integer from 0 to 2^53 − 1 (tokens)' },
  confidence: { test: (v) => v >= 0 && v <= 1, rule: 'from 0 to 1' },
};

/** Undefined when `value` is allowed for `type`, else why not. */
export function valueProblem(type: MetricType, value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'value must be a finite number';
  const { test, rule } = VALUE_RULES[type];
  return test(value) ? undefined : `a ${type} value must be ${rule} (got ${value})`;
}

const DAY_MS = 86_400_000;

export function startOfUtcDay(at: Date): Date {
  return new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
}

/**
 * Raw rows recorded before this instant are deleted by the rollup's retention step: the start of
 * the UTC day `retentionDays` days ago. The client API refuses rows older than it (they would be
 * deleted before they count).
 */
export function rawRetentionCutoff(now: Date, retentionDays: number): Date {
  return new Date(startOfUtcDay(now).getTime() - retentionDays * DAY_MS);
}
