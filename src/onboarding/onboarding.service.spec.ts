import fc from 'fast-check';
import { DEFAULT_ONBOARDING_STEPS } from './kpi.constants.js';
import type { OnboardingRepository } from './onboarding.repository.js';
import { canonicalJson, OnboardingService } from './onboarding.service.js';
import { OnboardingVerifier } from './onboarding.verifier.js';

const service = new OnboardingService({} as OnboardingRepository);
const defaults = { source: 'default' as const, steps: [...DEFAULT_ONBOARDING_STEPS] };

function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, seed));
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    const rotated = entries
      .slice(seed % (entries.length || 1))
      .concat(entries.slice(0, seed % (entries.length || 1)))
      .reverse();
    return Object.fromEntries(rotated.map(([k, v]) => [k, shuffleKeys(v, seed + 1)]));
  }
  return value;
}

describe('canonicalJson', () => {
  it('gives the same text for the same JSON value whatever its key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(10), (value, seed) => {
        expect(canonicalJson(shuffleKeys(value, seed))).toBe(canonicalJson(value));
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe('OnboardingService rules', () => {
  it('rejects step 2 before step 1 with ONBOARDING_STEP_NOT_ELIGIBLE naming step 1', () => {
    expect(() => service.assertEligible(defaults, 2, [])).toThrow(expect.objectContaining({ code: 'ONBOARDING_STEP_NOT_ELIGIBLE' }));
    expect(() => service.assertEligible(defaults, 5, [1, 3])).toThrow(
      expect.objectContaining({ options: expect.objectContaining({ extensions: { missingSteps: [2, 4] } }) }),
    );
    expect(() => service.assertEligible(defaults, 3, [1, 2])).not.toThrow();
    expect(() => service.assertEligible(defaults, 1, [])).not.toThrow();
  });

  it('finds only the steps the project has', () => {
    expect(service.findStep(defaults, 5).kpiId).toBe('kpi.onboarding.step_5_completed');
    expect(() => service.findStep(defaults, 6)).toThrow(expect.objectContaining({ code: 'ONBOARDING_STEP_NOT_FOUND' }));
  });

  it('fingerprints requests by user, step, source and metadata, not by key', () => {
    const base = { projectId: 'p', userId: 'u', step: 1, source: 'web', metadata: { a: 1, b: 2 } };
    expect(service.fingerprint({ ...base, idempotencyKey: 'x' })).toBe(
      service.fingerprint({ ...base, metadata: { b: 2, a: 1 }, idempotencyKey: 'y' }),
    );
    expect(service.fingerprint(base)).not.toBe(service.fingerprint({ ...base, source: 'mobile' }));
    expect(service.fingerprint(base)).not.toBe(service.fingerprint({ ...base, step: 2 }));
  });
});

describe('OnboardingVerifier', () => {
  const verifier = new OnboardingVerifier();
  const good = {
    id: '3f1c1a55-8d7e-4a57-9f0a-0d1f2c3b4a5e',
    kpiId: 'kpi.onboarding.step_1_completed',
    userId: 'u',
    occurredAt: new Date('2025-11-20T10:00:00Z'),
    metadata: { step: 1, source: 'api' },
  };

  it('accepts a complete event', () => {
    expect(verifier.problems(good)).toEqual([]);
  });

  it('names a missing KPI id, a non-canonical one and missing metadata', () => {
    expect(verifier.problems({ ...good, kpiId: null })).toEqual(['kpiId is missing: the step is mapped to no KPI']);
    expect(verifier.problems({ ...good, kpiId: 'signup' })).toEqual(['kpiId "signup" is not a canonical KPI id']);
    expect(verifier.problems({ ...good, metadata: { source: 'api' } })).toEqual(['metadata.step is missing']);
    expect(() => verifier.verify({ ...good, userId: '' })).toThrow(expect.objectContaining({ code: 'KPI_EVENT_INVALID' }));
  });
});
