import type { ValidationOptions } from 'class-validator';
import { ValidatesWith } from '../../common/http/validation.js';

/**
 * A class-validator decorator that applies one of the shared rules of onboarding.rules.ts, so the
 * DTOs and the client's validator cannot drift apart.
 */
export function SatisfiesRule(rule: (value: unknown) => boolean, message: string, options?: ValidationOptions) {
  return (target: object, propertyName: string) => ValidatesWith(`onboardingRule_${propertyName}`, rule, message, options)(target, propertyName);
}
