/**
 * The canonical leading-KPI identifiers, and the default onboarding steps that map onto them.
 * A KPI id is only ever written from here (or from a project's own step list, which the database
 * checks against the same `kpi.<area>.<name>` shape).
 */
export const ONBOARDING_KPI_IDS = {
  STEP_1_COMPLETED: 'kpi.onboarding.step_1_completed',
  STEP_2_COMPLETED: 'kpi.onboarding.step_2_completed',
  STEP_3_COMPLETED: 'kpi.onboarding.step_3_completed',
  STEP_4_COMPLETED: 'kpi.onboarding.step_4_completed',
  STEP_5_COMPLETED: 'kpi.onboarding.step_5_completed',
} as const;

export type OnboardingKpiId = (typeof ONBOARDING_KPI_IDS)[keyof typeof ONBOARDING_KPI_IDS];

export const KPI_ID_PATTERN = /^kpi\.[a-z0-9_]+(\.[a-z0-9_]+)*$/;

export interface OnboardingStepDefinition {
  step: number;
  name: string;
  /** null: the step exists but contributes to no KPI yet; its KPI events are flagged failed. */
  kpiId: string | null;
}

/** Used by every project that has not defined its own steps. */
export const DEFAULT_ONBOARDING_STEPS: readonly OnboardingStepDefinition[] = [
  { step: 1, name: 'Step 1', kpiId: ONBOARDING_KPI_IDS.STEP_1_COMPLETED },
  { step: 2, name: 'Step 2', kpiId: ONBOARDING_KPI_IDS.STEP_2_COMPLETED },
  { step: 3, name: 'Step 3', kpiId: ONBOARDING_KPI_IDS.STEP_3_COMPLETED },
  { step: 4, name: 'Step 4', kpiId: ONBOARDING_KPI_IDS.STEP_4_COMPLETED },
  { step: 5, name: 'Step 5', kpiId: ONBOARDING_KPI_IDS.STEP_5_COMPLETED },
];

/** Where a KPI event came from when the client names no source. */
export const DEFAULT_KPI_SOURCE = 'api';
