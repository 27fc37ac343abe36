/**
 * The rules of a step-completion request, in one dependency-free module: the server's DTO and
 * controller validate with them, and `npm run client:generate` copies this file into the client
 * package (client/src/onboarding-rules.ts), so a frontend rejects exactly what the server would.
 */
export const COMPLETE_STEP_RULES = {
  userId: { minLength: 1, maxLength: 128 },
  // Any positive step number (up to PostgreSQL's integer) is well-formed; one the project does not
  // have is ONBOARDING_STEP_NOT_FOUND (404), not a validation error.
  step: { min: 1, max: 2_147_483_647 },
  source: { minLength: 1, maxLength: 64 },
  metadata: { maxBytes: 4096 },
  idempotencyKey: { minLength: 1, maxLength: 255, pattern: /^[\x21-\x7e]+$/ },
} as const;

export const COMPLETE_STEP_BODY_FIELDS = ['source', 'metadata'] as const;

export interface CompleteStepInput {
  userId: unknown;
  step: unknown;
  idempotencyKey?: unknown;
  body?: unknown;
}

export interface RuleViolation {
  field: string;
  message: string;
}

export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

export function isValidUserId(value: unknown): value is string {
  const r = COMPLETE_STEP_RULES.userId;
  return typeof value === 'string' && value.length >= r.minLength && value.length <= r.maxLength && value.trim() === value && value !== '';
}

export function isValidStep(value: unknown): boolean {
  const r = COMPLETE_STEP_RULES.step;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= r.min && n <= r.max;
}

export function isValidSource(value: unknown): value is string {
  const r = COMPLETE_STEP_RULES.source;
  return typeof value === 'string' && value.length >= r.minLength && value.length <= r.maxLength;
}

export function isValidMetadata(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && utf8Length(JSON.stringify(value)) <= COMPLETE_STEP_RULES.metadata.maxBytes
  );
}

export function isValidIdempotencyKey(value: unknown): value is string {
  const r = COMPLETE_STEP_RULES.idempotencyKey;
  return typeof value === 'string' && value.length >= r.minLength && value.length <= r.maxLength && r.pattern.test(value);
}

/** Every violation of the request, as the server names them (empty: the server accepts its shape). */
export function validateCompleteStepRequest(input: CompleteStepInput): RuleViolation[] {
  const violations: RuleViolation[] = [];
  const r = COMPLETE_STEP_RULES;
  if (!isValidUserId(input.userId)) {
    violations.push({ field: 'userId', message: `userId must be ${r.userId.minLength}–${r.userId.maxLength} characters without surrounding spaces` });
  }
  if (!isValidStep(input.step)) {
    violations.push({ field: 'step', message: `step must be a whole number from ${r.step.min} to ${r.step.max}` });
  }
  if (input.idempotencyKey !== undefined && !isValidIdempotencyKey(input.idempotencyKey)) {
    violations.push({
      field: 'Idempotency-Key',
      message: `Idempotency-Key must be ${r.idempotencyKey.minLength}–${r.idempotencyKey.maxLength} visible ASCII characters`,
    });
  }
  const body = input.body ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    violations.push({ field: 'body', message: 'the body must be a JSON object' });
    return violations;
  }
  for (const [field, value] of Object.entries(body)) {
    if (!(COMPLETE_STEP_BODY_FIELDS as readonly string[]).includes(field)) {
      violations.push({ field, message: `unknown field ${field}` });
    } else if (field === 'source' && value !== undefined && !isValidSource(value)) {
      violations.push({ field, message: `source must be a string of ${r.source.minLength}–${r.source.maxLength} characters` });
    } else if (field === 'metadata' && value !== undefined && !isValidMetadata(value)) {
      violations.push({ field, message: `metadata must be a JSON object of at most ${r.metadata.maxBytes} bytes` });
    }
  }
  return violations;
}
