import { registerDecorator, type ValidationOptions } from 'class-validator';

/**
 * A class-validator decorator that applies one of the shared rules of onboarding.rules.ts, so the
 * DTOs and the client's validator cannot drift apart.
 */
export function SatisfiesRule(rule: (value: unknown) => boolean, message: string, options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: `onboardingRule_${propertyName}`,
      target: target.constructor,
      propertyName,
      options: { message, ...options },
      validator: { validate: (value: unknown) => rule(value) },
    });
}
