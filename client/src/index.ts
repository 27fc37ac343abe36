/**
 * The Trailmark API for frontends: `createTrailmarkClient` is openapi-fetch typed by the generated
 * `paths`; `completeOnboardingStep` checks a completion with the server's own rules before it is
 * sent, so an invalid request never leaves the browser.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';
import { validateCompleteStepRequest, type RuleViolation } from './onboarding-rules.js';

export type { components, paths } from './schema.js';
export * from './onboarding-rules.js';

export type TrailmarkClient = Client<paths>;
export type StepCompletion = components['schemas']['StepCompletionDto'];
export type Problem = components['schemas']['ProblemDto'];

export interface TrailmarkClientOptions {
  baseUrl: string;
  apiKey: string;
  fetch?: typeof globalThis.fetch;
}

export function createTrailmarkClient(options: TrailmarkClientOptions): TrailmarkClient {
  return createClient<paths>({
    baseUrl: options.baseUrl,
    headers: { authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

export interface CompleteOnboardingStepRequest {
  projectId: string;
  userId: string;
  step: number;
  source?: string;
  metadata?: Record<string, unknown>;
  /**
   * Keep it for retries: resending with the same key after a lost response returns the first
   * answer and records nothing twice.
   */
  idempotencyKey?: string;
}

export type CompleteOnboardingStepResult =
  | { kind: 'completed'; completion: StepCompletion }
  | { kind: 'invalid'; violations: RuleViolation[] }
  | { kind: 'problem'; status: number; problem: Problem };

export async function completeOnboardingStep(client: TrailmarkClient, request: CompleteOnboardingStepRequest): Promise<CompleteOnboardingStepResult> {
  const body = {
    ...(request.source !== undefined ? { source: request.source } : {}),
    ...(request.metadata !== undefined ? { metadata: request.metadata } : {}),
  };
  const violations = validateCompleteStepRequest({ userId: request.userId, step: request.step, idempotencyKey: request.idempotencyKey, body });
  if (violations.length) return { kind: 'invalid', violations };
  const { data, error, response } = await client.POST('/v1/projects/{projectId}/users/{userId}/onboarding/steps/{step}/complete', {
    params: {
      path: { projectId: request.projectId, userId: request.userId, step: request.step },
      header: request.idempotencyKey !== undefined ? { 'Idempotency-Key': request.idempotencyKey } : {},
    },
    body,
  });
  if (data) return { kind: 'completed', completion: data };
  return { kind: 'problem', status: response.status, problem: error as Problem };
}
