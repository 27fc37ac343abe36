/**
 * Checks one metric of a client batch against the rules a DTO cannot express (type-dependent
 * value ranges, label keys, time window), so each bad item is rejected on its own.
 */
import type { ErrorCode } from '../common/errors/error-catalogue.js';
import { readDateTime } from '../common/time/instant.js';
import { canonicalLabels } from './labels.js';
import { isMetricType, METRIC_TYPES, valueProblem } from './metric-types.js';
import type { RawMetricInput } from './operational-metrics.repository.js';

/** Clients' clocks drift; a little future is tolerated, as for tracking events. */
export const MAX_FUTURE_MS = 5 * 60_000;
const FIELDS = ['type', 'value', 'labels', 'recordedAt'];
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export type VerifiedMetric = { ok: true; row: RawMetricInput } | { ok: false; code: ErrorCode; message: string };

export function verifyMetric(item: unknown, now: Date, retentionCutoff: Date): VerifiedMetric {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return { ok: false, code: 'OPERATIONAL_METRIC_INVALID', message: 'a metric must be an object' };
  }
  const metric = item as Record<string, unknown>;
  const unknown = Object.keys(metric).filter((key) => !FIELDS.includes(key));
  if (unknown.length) return { ok: false, code: 'OPERATIONAL_METRIC_INVALID', message: `unknown field ${unknown.join(', ')}` };
  if (!isMetricType(metric.type)) {
    return { ok: false, code: 'OPERATIONAL_METRIC_TYPE_UNKNOWN', message: `type must be one of ${METRIC_TYPES.join(', ')}` };
  }
  if (typeof metric.value !== 'number') return { ok: false, code: 'OPERATIONAL_METRIC_INVALID', message: 'value must be a number' };
  const problem = valueProblem(metric.type, metric.value);
  if (problem) return { ok: false, code: 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE', message: problem };
  const labels = canonicalLabels(metric.labels);
  if (!labels.ok) return { ok: false, code: 'OPERATIONAL_METRIC_LABELS_INVALID', message: labels.message };

  let recordedAt = now;
  if (metric.recordedAt !== undefined) {
    const parsed = parseRecordedAt(metric.recordedAt);
    if (!parsed) {
      return { ok: false, code: 'OPERATIONAL_METRIC_INVALID', message: 'recordedAt must be an ISO-8601 date-time with a time zone' };
    }
    if (parsed.getTime() > now.getTime() + MAX_FUTURE_MS) {
      return { ok: false, code: 'OPERATIONAL_METRIC_TIME_IN_FUTURE', message: 'recordedAt is more than 5 minutes in the future' };
    }
    if (parsed < retentionCutoff) {
      return {
        ok: false,
        code: 'OPERATIONAL_METRIC_TIME_TOO_OLD',
        message: `recordedAt is before ${retentionCutoff.toISOString()}, the start of the raw retention window`,
      };
    }
    // Kept to the millisecond, the precision of the API's timestamps and cursors.
    recordedAt = parsed;
  }
  return { ok: true, row: { type: metric.type, value: metric.value, ...labels.value, recordedAt } };
}

/** A date-time with a time zone, of a day of the calendar (not `2025-04-31`, which `Date` reads as May 1st). */
function parseRecordedAt(value: unknown): Date | undefined {
  const match = typeof value === 'string' ? ISO_DATE_TIME.exec(value) : null;
  return match ? readDateTime(match[0], match.slice(1, 7), true) : undefined;
}
