import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Db } from '../common/database/sql.js';
import { AppError } from '../common/errors/app-error.js';
import { decodeCursor, toPage, type Page } from '../common/pagination/cursor.js';
import type { Project } from '../projects/projects.repository.js';
import type { StepCompletionDto } from './dto/complete-step.dto.js';
import type { KpiEventDto, KpiEventQueryDto, KpiStatsDto, KpiStatsQueryDto } from './dto/kpi-event.dto.js';
import type { OnboardingProgressDto, OnboardingStepListDto } from './dto/onboarding-progress.dto.js';
import { DEFAULT_ONBOARDING_STEPS, type OnboardingStepDefinition } from './kpi.constants.js';
import { OnboardingRepository, type IdempotencyRecord, type OutboxEvent } from './onboarding.repository.js';
import { requireInstant } from '../common/time/instant.js';
import { toDateRange } from '../common/time/date-range.js';

/** At most this many buckets per KPI in one stats answer (a bit under three years of days). */
export const MAX_STATS_BUCKETS = 1000;

function toKpiEventDto(row: OutboxEvent): KpiEventDto {
  return {
    id: row.eventId,
    kpiId: row.kpiId,
    userId: row.userId,
    occurredAt: row.occurredAt.toISOString(),
    metadata: row.metadata,
    status: row.status,
    failureReason: row.failureReason,
    attempts: row.attempts,
    recordedAt: row.recordedAt ? row.recordedAt.toISOString() : null,
  };
}

export interface CompleteStepCommand {
  projectId: string;
  userId: string;
  step: number;
  source?: string;
  metadata?: Record<string, unknown>;
  idempotencyKey?: string;
}

export interface StepList {
  source: 'default' | 'project';
  steps: OnboardingStepDefinition[];
}

/** JSON with object keys sorted, so equal requests give equal fingerprints whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The onboarding rules: which steps a project has, which step may be completed, idempotency. */
@Injectable()
export class OnboardingService {
  constructor(private readonly repository: OnboardingRepository) {}

  /** The project's own steps, or the default steps 1–5 when it has defined none. */
  async steps(projectId: string, db?: Db): Promise<StepList> {
    const own = await this.repository.projectSteps(projectId, db);
    return own.length ? { source: 'project', steps: own } : { source: 'default', steps: [...DEFAULT_ONBOARDING_STEPS] };
  }

  findStep(list: StepList, step: number): OnboardingStepDefinition {
    const definition = list.steps.find((s) => s.step === step);
    if (!definition) {
      throw new AppError('ONBOARDING_STEP_NOT_FOUND', `Step ${step} is not an onboarding step of this project.`, {
        extensions: { steps: list.steps.map((s) => s.step) },
      });
    }
    return definition;
  }

  /** A step is eligible when every earlier step of the project is completed. */
  assertEligible(list: StepList, step: number, completed: readonly number[]): void {
    const done = new Set(completed);
    const missingSteps = list.steps.filter((s) => s.step < step && !done.has(s.step)).map((s) => s.step);
    if (missingSteps.length) {
      throw new AppError(
        'ONBOARDING_STEP_NOT_ELIGIBLE',
        `Step ${step} needs step${missingSteps.length > 1 ? 's' : ''} ${missingSteps.join(', ')} completed first.`,
        { extensions: { missingSteps } },
      );
    }
  }

  /** What identifies "the same request" for an Idempotency-Key. */
  fingerprint(command: CompleteStepCommand): string {
    const request = {
      userId: command.userId,
      step: command.step,
      source: command.source ?? null,
      metadata: command.metadata ?? null,
    };
    return createHash('sha256').update(canonicalJson(request)).digest('hex');
  }

  /**
   * The first answer when this key was used before for the same request; IDEMPOTENCY_KEY_REUSED
   * for a different one; undefined when the key is new (or its first use did not finish).
   */
  replay(record: IdempotencyRecord, fingerprint: string): StepCompletionDto | undefined {
    if (record.inserted) return undefined;
    if (record.fingerprint !== fingerprint) {
      throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was first used with a different request; use a new key.');
    }
    return (record.response as StepCompletionDto | null) ?? undefined;
  }

  async stepList(projectId: string): Promise<OnboardingStepListDto> {
    const list = await this.steps(projectId);
    return { source: list.source, data: list.steps };
  }

  async progress(projectId: string, userId: string): Promise<OnboardingProgressDto> {
    const [list, completions, events] = await Promise.all([
      this.steps(projectId),
      this.repository.userCompletions(projectId, userId),
      this.repository.userOutbox(projectId, userId),
    ]);
    const steps = list.steps.map((definition) => {
      const completion = completions.find((c) => c.step === definition.step);
      const event = completion && events.find((e) => e.eventId === completion.kpiEventId);
      return {
        ...definition,
        completed: completion !== undefined,
        completedAt: completion ? completion.completedAt.toISOString() : null,
        kpiEvent: event ? { id: event.eventId, kpiId: event.kpiId, status: event.status } : null,
      };
    });
    const completedSteps = steps.filter((s) => s.completed).length;
    return {
      userId,
      completedSteps,
      totalSteps: steps.length,
      nextStep: steps.find((s) => !s.completed)?.step ?? null,
      steps,
    };
  }

  async kpiEvents(projectId: string, query: KpiEventQueryDto): Promise<Page<KpiEventDto>> {
    const key = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows = await this.repository.listOutbox(
      projectId,
      {
        kpiId: query.kpiId,
        userId: query.userId,
        status: query.status,
        ...toDateRange(query.from, query.to),
        after: key ? { occurredAt: String(key[0]), eventId: String(key[1]) } : undefined,
      },
      query.limit + 1,
    );
    return toPage(rows, query.limit, toKpiEventDto, (row) => [row.occurredAt.toISOString(), row.eventId]);
  }

  /** Recorded KPI events per KPI per day or ISO week of the project's time zone. */
  async kpiStats(project: Project, query: KpiStatsQueryDto): Promise<KpiStatsDto> {
    const from = requireInstant(query.from, 'from');
    const to = requireInstant(query.to, 'to');
    if (!(to.getTime() > from.getTime())) throw AppError.validation([{ field: 'to', message: 'to must be after from' }]);
    const bucketDays = query.grain === 'week' ? 7 : 1;
    if ((to.getTime() - from.getTime()) / 86_400_000 / bucketDays > MAX_STATS_BUCKETS - 2) {
      throw AppError.validation([{ field: 'to', message: `the range may span at most ${MAX_STATS_BUCKETS - 2} ${query.grain}s` }]);
    }
    const list = await this.steps(project.id);
    const kpiIds = [...new Set(list.steps.map((s) => s.kpiId).filter((k): k is string => k !== null))];
    const data = await this.repository.kpiCounts(project.id, {
      from: from.toISOString(),
      to: to.toISOString(),
      grain: query.grain,
      timezone: project.timezone,
      kpiIds,
    });
    return { timezone: project.timezone, grain: query.grain, from: from.toISOString(), to: to.toISOString(), data };
  }
}
