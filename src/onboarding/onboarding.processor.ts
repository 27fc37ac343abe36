import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock/clock.js';
import type { Db } from '../common/database/sql.js';
import { AppError } from '../common/errors/app-error.js';
import { MetricsRegistry } from '../common/observability/metrics.registry.js';
import type { KpiEventRefDto, StepCompletionDto } from './dto/complete-step.dto.js';
import { DEFAULT_KPI_SOURCE } from './kpi.constants.js';
import { OnboardingRepository, type Completion, type OutboxEvent } from './onboarding.repository.js';
import { OnboardingService, type CompleteStepCommand } from './onboarding.service.js';
import { OnboardingVerifier } from './onboarding.verifier.js';

export interface RetryCounts {
  [count: string]: number;
  retried: number;
  recorded: number;
  failed: number;
}

/** Outbox rows left `pending` longer than this are treated as failed by the retry job. */
const PENDING_GRACE_MS = 60_000;
const RETRY_BATCH = 100;
const RETRY_MAX_PER_RUN = 5000;

/**
 * Completing an onboarding step, in one transaction:
 *  1. claim the Idempotency-Key (a repeat waits, then gets the first answer);
 *  2. check the step exists and is eligible; insert the completion (unique per user and step);
 *  3. write the KPI event's outbox row;
 *  4. build, verify and store the KPI event inside a savepoint; if that fails only the savepoint
 *     is undone, the outbox row is flagged `failed` with its reason, and kpi-event-retry records
 *     it later;
 *  5. store the answer under the Idempotency-Key; commit.
 * The completion and the outbox row commit together, so no KPI event is lost or recorded twice.
 */
@Injectable()
export class OnboardingProcessor {
  private readonly logger = new Logger(OnboardingProcessor.name);

  constructor(
    private readonly repository: OnboardingRepository,
    private readonly service: OnboardingService,
    private readonly verifier: OnboardingVerifier,
    private readonly clock: Clock,
    private readonly metrics: MetricsRegistry,
  ) {}

  completeStep(command: CompleteStepCommand): Promise<StepCompletionDto> {
    const { projectId, userId, step } = command;
    return this.repository.transaction(async (tx) => {
      const fingerprint = command.idempotencyKey ? this.service.fingerprint(command) : undefined;
      if (command.idempotencyKey && fingerprint) {
        const claim = await this.repository.claimIdempotencyKey(tx, projectId, command.idempotencyKey, fingerprint);
        const firstAnswer = this.service.replay(claim, fingerprint);
        if (firstAnswer) return firstAnswer;
      }

      const steps = await this.service.steps(projectId, tx);
      const definition = this.service.findStep(steps, step);
      const completed = await this.repository.completedSteps(tx, projectId, userId);
      const previous = completed.find((c) => c.step === step);
      let answer: StepCompletionDto;
      if (previous) {
        answer = await this.alreadyCompleted(tx, projectId, previous);
      } else {
        this.service.assertEligible(
          steps,
          step,
          completed.map((c) => c.step),
        );
        const completedAt = this.clock.now();
        const completion = await this.repository.insertCompletion(tx, {
          projectId,
          userId,
          step,
          source: command.source ?? null,
          metadata: command.metadata ?? {},
          completedAt,
        });
        if (!completion) {
          // A concurrent twin committed first; its completion is the one.
          const first = await this.repository.findCompletion(tx, projectId, userId, step);
          answer = await this.alreadyCompleted(tx, projectId, first!);
        } else {
          const outbox: OutboxEvent = {
            projectId,
            eventId: completion.kpiEventId,
            userId,
            step,
            kpiId: definition.kpiId,
            occurredAt: completion.completedAt,
            metadata: { ...(command.metadata ?? {}), step, source: command.source ?? DEFAULT_KPI_SOURCE },
            status: 'pending',
            failureReason: null,
            attempts: 0,
            recordedAt: null,
          };
          await this.repository.insertOutbox(tx, outbox);
          const kpiEvent = await this.recordKpiEvent(tx, outbox, 'request');
          answer = { userId, step, completedAt: completion.completedAt.toISOString(), alreadyCompleted: false, kpiEvent };
          this.logger.log({ projectId, userId, step, kpiEventId: kpiEvent.id, kpiStatus: kpiEvent.status }, 'onboarding step completed');
        }
      }
      if (command.idempotencyKey) await this.repository.storeIdempotentResponse(tx, projectId, command.idempotencyKey, answer);
      return answer;
    });
  }

  /**
   * Builds, verifies and stores the KPI event of an outbox row; on failure flags the row failed
   * with its reason, logs and counts it. Never throws for a bad event or a failed write.
   */
  async recordKpiEvent(tx: Db, outbox: OutboxEvent, trigger: 'request' | 'retry'): Promise<KpiEventRefDto> {
    const at = this.clock.now();
    const { projectId, eventId } = outbox;
    try {
      const event = this.verifier.verify({
        id: eventId,
        kpiId: outbox.kpiId,
        userId: outbox.userId,
        occurredAt: outbox.occurredAt,
        metadata: outbox.metadata,
      });
      await this.repository
        .withSavepoint(tx, () => this.repository.insertKpiEvent(tx, projectId, event, at))
        .catch((error: unknown) => {
          throw new AppError('KPI_EVENT_WRITE_FAILED', `kpi_events write failed: ${(error as Error).message}`, { cause: error });
        });
      await this.repository.markRecorded(tx, projectId, eventId, event.kpiId, at);
      this.metrics.kpiEvents.inc({ outcome: 'recorded', trigger });
      return { id: eventId, kpiId: event.kpiId, status: 'recorded' };
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      const reason = `${error.code}: ${error.detail}`;
      await this.repository.markFailed(tx, projectId, eventId, reason, at);
      this.metrics.kpiEvents.inc({ outcome: 'failed', trigger });
      this.metrics.errors.inc({ actor: 'kpi-event', code: error.code });
      this.logger.error(
        { projectId, kpiEventId: eventId, userId: outbox.userId, step: outbox.step, code: error.code, reason, attempt: outbox.attempts + 1, trigger },
        'KPI event not recorded; kpi-event-retry will try again',
      );
      return { id: eventId, kpiId: outbox.kpiId, status: 'failed' };
    }
  }

  /**
   * Job kpi-event-retry: records every failed (or long-pending) outbox row, in batches, each row
   * at most once per run. A row whose step had no KPI id takes the step's current mapping.
   */
  async retryUnrecorded(): Promise<RetryCounts> {
    const counts: RetryCounts = { retried: 0, recorded: 0, failed: 0 };
    const seen: string[] = [];
    for (;;) {
      const pendingBefore = new Date(this.clock.now().getTime() - PENDING_GRACE_MS);
      const batch = await this.repository.transaction(async (tx) => {
        const rows = await this.repository.claimUnrecorded(tx, { pendingBefore, exclude: seen, limit: RETRY_BATCH });
        for (const row of rows) {
          seen.push(row.eventId);
          if (!row.kpiId) {
            const steps = await this.service.steps(row.projectId, tx);
            row.kpiId = steps.steps.find((s) => s.step === row.step)?.kpiId ?? null;
          }
          const result = await this.recordKpiEvent(tx, row, 'retry');
          counts.retried += 1;
          counts[result.status === 'recorded' ? 'recorded' : 'failed'] += 1;
        }
        return rows.length;
      });
      if (batch < RETRY_BATCH || seen.length >= RETRY_MAX_PER_RUN) break;
      this.logger.log({ retried: counts.retried, recorded: counts.recorded }, 'kpi-event-retry progress');
    }
    return counts;
  }

  private async alreadyCompleted(tx: Db, projectId: string, completion: Completion): Promise<StepCompletionDto> {
    const outbox = await this.repository.findOutbox(tx, projectId, completion.kpiEventId);
    return {
      userId: completion.userId,
      step: completion.step,
      completedAt: completion.completedAt.toISOString(),
      alreadyCompleted: true,
      kpiEvent: { id: completion.kpiEventId, kpiId: outbox?.kpiId ?? null, status: outbox?.status ?? 'pending' },
    };
  }
}
