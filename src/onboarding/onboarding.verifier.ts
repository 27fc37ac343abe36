import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { KPI_ID_PATTERN } from './kpi.constants.js';
import type { RecordedKpiEvent } from './onboarding.repository.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface KpiEventCandidate {
  id: string;
  kpiId: string | null | undefined;
  userId: string | null | undefined;
  occurredAt: Date | null | undefined;
  metadata: Record<string, unknown> | null | undefined;
}

/**
 * Checks a KPI analytics event before it is stored: the seed's "required metadata or KPI
 * identifier missing" rule. A failed check flags the event failed; the completion stays.
 */
@Injectable()
export class OnboardingVerifier {
  /** The problems of a candidate event; empty when it may be stored. */
  problems(candidate: KpiEventCandidate): string[] {
    const problems: string[] = [];
    if (!candidate.id || !UUID.test(candidate.id)) problems.push('id is not a UUID');
    if (!candidate.kpiId) problems.push('kpiId is missing: the step is mapped to no KPI');
    else if (!KPI_ID_PATTERN.test(candidate.kpiId)) problems.push(`kpiId "${candidate.kpiId}" is not a canonical KPI id`);
    if (!candidate.userId) problems.push('userId is missing');
    if (!(candidate.occurredAt instanceof Date) || Number.isNaN(candidate.occurredAt.getTime())) problems.push('occurredAt is missing');
    const metadata = candidate.metadata;
    if (!metadata || typeof metadata !== 'object') {
      problems.push('metadata is missing');
    } else {
      if (!Number.isInteger(metadata.step) || (metadata.step as number) < 1) problems.push('metadata.step is missing');
      if (typeof metadata.source !== 'string' || metadata.source === '') problems.push('metadata.source is missing');
    }
    return problems;
  }

  /** The event, ready to store, or KPI_EVENT_INVALID naming every problem. */
  verify(candidate: KpiEventCandidate): RecordedKpiEvent {
    const problems = this.problems(candidate);
    if (problems.length) throw new AppError('KPI_EVENT_INVALID', problems.join('; '), { extensions: { problems } });
    return candidate as RecordedKpiEvent;
  }
}
