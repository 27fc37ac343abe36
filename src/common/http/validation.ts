import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { registerDecorator, type ValidationOptions } from 'class-validator';
import { AppError, type FieldError } from '../errors/app-error.js';

/** Flattens class-validator's tree into `{ field: 'steps[1].path', message }` entries. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const result: FieldError[] = [];
  for (const error of errors) {
    const field = /^\d+$/.test(error.property) ? `${parent}[${error.property}]` : parent ? `${parent}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) {
      result.push({ field, message: message.replace(/^property (\S+) should not exist$/, 'unknown field $1') });
    }
    if (error.children?.length) result.push(...flattenValidationErrors(error.children, field));
  }
  return result;
}

/** The global pipe: unknown fields rejected, types converted, every bad field named. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => AppError.validation(flattenValidationErrors(errors)),
  });
}

/** Query strings carry booleans as text: `true`/`false` become booleans; anything else stays for IsBoolean to reject. */
export const queryBoolean = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);

export function isIanaTimeZone(value: unknown): boolean {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) return false;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: value }).resolvedOptions().timeZone.length > 0;
  } catch {
    return false;
  }
}

/**
 * The zone's name as the time zone database spells it, where `value` differs from it only in case
 * (`europe/berlin` → `Europe/Berlin`); otherwise `value` as given: ICU resolves some current names
 * to older aliases (`Asia/Kolkata` → `Asia/Calcutta`), which a client would not expect back.
 */
export function canonicalTimeZoneCase(value: string): string {
  const resolved = new Intl.DateTimeFormat('en-US', { timeZone: value }).resolvedOptions().timeZone;
  return resolved.toLowerCase() === value.toLowerCase() ? resolved : value;
}

/**
 * A class-validator decorator from a predicate on the property's value, with the message it gives
 * when the predicate fails (built from the property's name where that is a function). Each rule of
 * our own in the DTOs is one of these.
 */
export function ValidatesWith(
  name: string,
  validate: (value: unknown) => boolean,
  message: string | ((property: string) => string),
  options?: ValidationOptions,
) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName,
      options: { message: typeof message === 'string' ? message : message(propertyName), ...options },
      validator: { validate: (value: unknown) => validate(value) },
    });
}

export function IsIanaTimeZone(options?: ValidationOptions) {
  return ValidatesWith('isIanaTimeZone', isIanaTimeZone, (property) => `${property} must be an IANA time zone such as Europe/Berlin`, options);
}

/** A plain JSON object (not an array or null) whose JSON text is at most `maxBytes` long. */
export function IsJsonObject(maxBytes: number, options?: ValidationOptions) {
  return ValidatesWith(
    'isJsonObject',
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value) && Buffer.byteLength(JSON.stringify(value), 'utf8') <= maxBytes,
    (property) => `${property} must be a JSON object of at most ${maxBytes} bytes`,
    options,
  );
}
