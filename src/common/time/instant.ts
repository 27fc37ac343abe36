import { AppError } from '../errors/app-error.js';

/** A date and time written without an offset, e.g. `2025-04-01T10:00:00` (ISO-8601 also allows a space for the T). */
const WITHOUT_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/i;

/**
 * An ISO-8601 instant from a query string (already checked by IsISO8601). Timestamps of the API are
 * UTC (spec §5): a date alone is midnight UTC and a date-time without an offset is read as UTC, the
 * same rule ingestion applies to `occurredAt` — never the server's own time zone, which is what
 * `new Date()` would use for the latter. Undefined when it is not a date.
 */
export function parseInstant(text: string): Date | undefined {
  const date = new Date(WITHOUT_OFFSET.test(text) ? `${text.replace(' ', 'T')}Z` : text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** parseInstant for a query field that must be a date: a 400 naming the field when it is not one JavaScript can read (e.g. an ISO week date). */
export function requireInstant(text: string, field: string): Date {
  const date = parseInstant(text);
  if (!date) throw AppError.validation([{ field, message: `${field} must be an ISO-8601 date and time` }]);
  return date;
}

/**
 * Whether year-month-day names a day of the calendar: `2025-02-30` does not, though `Date` reads
 * it (rolled into March), whatever offset follows it.
 */
export function isCalendarDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const lastOfMonth = new Date(0);
  lastOfMonth.setUTCFullYear(year, month, 0); // day 0 of the next month
  return day <= lastOfMonth.getUTCDate();
}

/**
 * The instant of a date-time text its caller's pattern has matched, from the fields it captured
 * (year, month, day, hour, minute and, if written, second): undefined where they name no day of the
 * calendar or no time of day (`2025-02-30`, `24:00`), which `Date` would roll over. A text without
 * an offset is read as UTC.
 */
export function readDateTime(text: string, fields: readonly (string | undefined)[], hasOffset: boolean): Date | undefined {
  const [year, month, day, hour, minute, second] = fields.map(Number);
  if (!isCalendarDay(year, month, day) || hour > 23 || minute > 59 || (fields[5] !== undefined && second > 59)) return undefined;
  const date = new Date(hasOffset ? text : `${text}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
