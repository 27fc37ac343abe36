import { AppError } from '../common/errors/app-error.js';

export interface DateRange {
  from?: Date;
  to?: Date;
}

/** `from` / `to` query strings (already ISO-8601 checked) as dates; `from` must not be after `to`. */
export function toDateRange(from?: string, to?: string): DateRange {
  const range: DateRange = { from: from ? new Date(from) : undefined, to: to ? new Date(to) : undefined };
  for (const field of ['from', 'to'] as const) {
    if (range[field] && Number.isNaN(range[field].getTime())) {
      throw AppError.validation([{ field, message: `${field} must be an ISO-8601 date` }]);
    }
  }
  if (range.from && range.to && range.from > range.to) {
    throw AppError.validation([{ field: 'from', message: 'from must not be after to' }]);
  }
  return range;
}
