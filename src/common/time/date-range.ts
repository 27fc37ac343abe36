import { AppError } from '../errors/app-error.js';
import { requireInstant } from './instant.js';

export interface DateRange {
  from?: Date;
  to?: Date;
}

/** `from` / `to` query strings (already ISO-8601 checked) as UTC instants; `from` must not be after `to`. */
export function toDateRange(from?: string, to?: string): DateRange {
  const range: DateRange = { from: from ? requireInstant(from, 'from') : undefined, to: to ? requireInstant(to, 'to') : undefined };
  if (range.from && range.to && range.from > range.to) {
    throw AppError.validation([{ field: 'from', message: 'from must not be after to' }]);
  }
  return range;
}
