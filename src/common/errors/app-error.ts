import { ERROR_CATALOGUE, type ErrorCode } from './error-catalogue.js';

export interface FieldError {
  field: string;
  message: string;
}

/**
 * A failure with a code from the catalogue. Thrown by domain code and rendered by the problem
 * filter; `extensions` become extra members of the problem body (e.g. `missingSteps`).
 */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly options: { errors?: FieldError[]; extensions?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(detail ?? ERROR_CATALOGUE[code].title, { cause: options.cause });
    this.name = 'AppError';
    this.status = ERROR_CATALOGUE[code].status;
  }

  static validation(errors: FieldError[], detail?: string): AppError {
    const summary = detail ?? errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    return new AppError('VALIDATION_FAILED', summary, { errors });
  }
}
