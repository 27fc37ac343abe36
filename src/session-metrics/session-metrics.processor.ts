import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Db } from '../common/database/sql.js';
import { OperationalMetricsCollector } from '../operational-metrics/operational-metrics.collector.js';
import { Clock } from '../common/clock/clock.js';
import { AppError } from '../common/errors/app-error.js';
import { MetricsRegistry } from '../common/observability/metrics.registry.js';
import { PermanentJobError, type QueueItem } from '../common/queue/queue.service.js';
import { isValidSessionId, UUID_PATTERN, type SessionMetricsJobData } from './session-metrics.constants.js';
import { SessionMetricsRepository, type ComputeAndStoreRow, type SessionForMetrics } from './session-metrics.repository.js';
import { SessionMetricsVerifier } from './session-metrics.verifier.js';

export interface PipelineFailure {
  sessionId: unknown;
  error: AppError;
}

export interface PipelineBatchResult {
  /** Metrics stored by this attempt, by session id. */
  stored: Map<string, ComputeAndStoreRow>;
  /** When this attempt computed them. */
  computedAt: Date;
  /** Sessions whose stored metrics were already current (not recomputed, no run recorded). */
  skipped: string[];
  /** Sessions that can never succeed as they are (recorded as failed runs, nothing stored). */
  failed: PipelineFailure[];
}

/** What the operational-metrics collector needs about one pipeline item when it finishes. */
export interface PipelineItemOutcome {
  projectId: string;
  sessionId: string;
  status: 'succeeded' | 'failed' | 'skipped';
  errorCode: string | null;
  attempt: number;
  durationMs: number;
}

interface BatchInput {
  projectId: string;
  sessionIds: unknown[];
  attempt: number;
  jobId: string | null;
  /** Recompute even when the stored metrics are current (the recompute endpoint). */
  force: boolean;
}

/**
 * The metrics pipeline (seed session-metrics-pipeline), for one batch of sessions of one project:
 * 1 trigger (validate ids) → 2 load (lock and check sessions) → 3 compute + verify and 4 persist
 * (upsert) in one SQL statement → 5 mark success (pipeline_runs). Steps 2–5 share one transaction,
 * so an attempt stores all of its metrics and run records or none of them: a crash or a failed
 * write leaves no half batch, and the retry redoes it whole.
 */
@Injectable()
export class SessionMetricsProcessor {
  private readonly logger = new Logger(SessionMetricsProcessor.name);

  constructor(
    private readonly repository: SessionMetricsRepository,
    private readonly verifier: SessionMetricsVerifier,
    private readonly clock: Clock,
    private readonly metrics: MetricsRegistry,
    private readonly collector: OperationalMetricsCollector,
  ) {}

  /**
   * A queued job. Throws PermanentJobError (dead-letter, no retry) when the job or any of its
   * sessions can never succeed as it is; any other error lets the queue retry the whole job.
   */
  async processQueued(item: QueueItem<SessionMetricsJobData>): Promise<PipelineBatchResult> {
    const data = item.data as Partial<SessionMetricsJobData> | null;
    if (
      !data ||
      typeof data.projectId !== 'string' ||
      !UUID_PATTERN.test(data.projectId) ||
      !Array.isArray(data.sessionIds) ||
      data.sessionIds.length === 0
    ) {
      this.logger.error({ jobId: item.id, data }, 'session metrics job without a project id or session ids; dead-lettered');
      throw new PermanentJobError('SESSION_ID_INVALID', 'The job names no project or no session ids');
    }
    const result = await this.process({
      projectId: data.projectId,
      sessionIds: data.sessionIds,
      attempt: item.retryCount + 1,
      jobId: item.id,
      force: data.force === true,
    });
    if (result.failed.length > 0) {
      const first = result.failed[0].error;
      throw new PermanentJobError(first.code, `${result.failed.length} session(s) failed permanently, first: ${first.message}`);
    }
    return result;
  }

  /** Runs the pipeline for one batch now. Throws (after recording the failed attempt) on a transient failure. */
  async process(input: BatchInput): Promise<PipelineBatchResult> {
    const startedAt = this.clock.now();
    const started = performance.now();
    const { projectId, attempt, jobId } = input;

    // Step 1: a missing or malformed id can never succeed.
    const failed: PipelineFailure[] = [];
    const ids = new Set<string>();
    for (const id of input.sessionIds) {
      if (isValidSessionId(id)) ids.add(id);
      else failed.push({ sessionId: id, error: new AppError('SESSION_ID_INVALID', `Session id ${JSON.stringify(id)} is not 1–128 characters.`) });
    }
    const sessionIds = [...ids];

    let result: PipelineBatchResult;
    try {
      result = await this.repository.transaction(async (tx) => {
        await this.repository.configureBatch(tx, { asyncCommit: jobId !== null });
        // Step 2: load (and lock) the sessions.
        const sessions = new Map((await this.repository.lockSessions(tx, projectId, sessionIds)).map((s) => [s.sessionId, s]));
        const skipped: string[] = [];
        const toCompute: string[] = [];
        for (const sessionId of sessionIds) {
          const session = sessions.get(sessionId);
          const problem = this.loadProblem(sessionId, session);
          if (problem) failed.push({ sessionId, error: problem });
          else if (!input.force && session!.metricsCurrent) skipped.push(sessionId);
          else toCompute.push(sessionId);
        }

        // Steps 3 and 4: compute, verify and store the batch in one statement. A session another
        // worker stored while this one waited for its lock is not written again: it joins the
        // skipped ones.
        const computedAt = this.clock.now();
        let rows: ComputeAndStoreRow[];
        try {
          rows = await this.repository.computeAndStore(tx, projectId, toCompute, computedAt, input.force);
        } catch (cause) {
          this.logger.error({ err: cause, projectId, sessionIds: toCompute, attempt, jobId }, 'session metrics could not be stored');
          throw new AppError('METRICS_PERSIST_FAILED', `Storing metrics of ${toCompute.length} session(s) failed: ${(cause as Error).message}`, {
            cause,
          });
        }
        const stored = new Map<string, ComputeAndStoreRow>();
        for (const row of rows) {
          if (row.problems.length) failed.push({ sessionId: row.sessionId, error: this.verifier.invalid(row.sessionId, row.problems) });
          else if (row.written) stored.set(row.sessionId, row);
          else skipped.push(row.sessionId);
        }

        // Step 5: mark success (and the permanent failures) in the same transaction.
        const durationMs = Math.max(0, Math.round(performance.now() - started));
        const runs = {
          succeeded: [...stored.keys()],
          failed: failed.filter((f): f is PipelineFailure & { sessionId: string } => typeof f.sessionId === 'string'),
          attempt,
          jobId,
          startedAt,
          finishedAt: this.clock.now(),
          durationMs,
        };
        try {
          await this.repository.insertRuns(projectId, runs, tx);
        } catch (cause) {
          this.logger.error({ err: cause, projectId, sessionIds, attempt, jobId }, 'metrics pipeline runs could not be recorded');
          const count = runs.succeeded.length + runs.failed.length;
          throw new AppError('PIPELINE_RUN_RECORD_FAILED', `Recording ${count} pipeline run(s) failed: ${(cause as Error).message}`, { cause });
        }
        await this.recordOperationalMetrics(
          tx,
          durationMs,
          failed.map((f) => f.error.code),
        );
        return { stored, computedAt, skipped, failed };
      });
    } catch (caught) {
      const error = caught instanceof AppError ? caught : new AppError('INTERNAL_ERROR', (caught as Error).message, { cause: caught });
      await this.recordFailedAttempt(projectId, sessionIds, error, { attempt, jobId, startedAt, started });
      throw error;
    }

    const durationMs = Math.round(performance.now() - started);
    for (const sessionId of result.stored.keys())
      this.itemFinished({ projectId, sessionId, status: 'succeeded', errorCode: null, attempt, durationMs });
    for (const sessionId of result.skipped) this.itemFinished({ projectId, sessionId, status: 'skipped', errorCode: null, attempt, durationMs });
    for (const f of result.failed) {
      this.logger.warn(
        { projectId, sessionId: f.sessionId, code: f.error.code, detail: f.error.message, attempt, jobId },
        'session metrics not computed',
      );
      this.itemFinished({ projectId, sessionId: String(f.sessionId), status: 'failed', errorCode: f.error.code, attempt, durationMs });
    }
    this.logger.log(
      { projectId, jobId, attempt, stored: result.stored.size, skipped: result.skipped.length, failed: result.failed.length, durationMs },
      'session metrics batch done',
    );
    return result;
  }

  /** Step 2's errors: not found, not completed, or a sessions row the metrics cannot trust. */
  private loadProblem(sessionId: string, session: SessionForMetrics | undefined): AppError | undefined {
    if (!session) return new AppError('SESSION_NOT_FOUND', `No session "${sessionId}" in this project.`, { extensions: { sessionId } });
    if (session.status !== 'completed') {
      return new AppError('SESSION_NOT_COMPLETED', `Session "${sessionId}" is ${session.status}; metrics are computed once it is completed.`, {
        extensions: { sessionId, sessionStatus: session.status },
      });
    }
    return session.problems.length ? this.verifier.invalid(sessionId, session.problems) : undefined;
  }

  /** The attempt's transaction rolled back: record it as failed for each of its sessions, best effort. */
  private async recordFailedAttempt(
    projectId: string,
    sessionIds: string[],
    error: AppError,
    at: { attempt: number; jobId: string | null; startedAt: Date; started: number },
  ): Promise<void> {
    const durationMs = Math.round(performance.now() - at.started);
    const finishedAt = this.clock.now();
    try {
      await this.repository.transaction(async (tx) => {
        await this.repository.insertRuns(
          projectId,
          {
            succeeded: [],
            failed: sessionIds.map((sessionId) => ({ sessionId, error })),
            attempt: at.attempt,
            jobId: at.jobId,
            startedAt: at.startedAt,
            finishedAt,
            durationMs,
          },
          tx,
        );
        await this.recordOperationalMetrics(
          tx,
          durationMs,
          sessionIds.map(() => error.code),
        );
      });
    } catch (cause) {
      // Logged, not thrown: the attempt's own error is what the queue must see and retry on.
      this.logger.error(
        { err: cause, code: 'PIPELINE_RUN_RECORD_FAILED', projectId, sessionIds, attempt: at.attempt },
        'failed metrics attempt could not be recorded',
      );
      this.metrics.errors.inc({ actor: 'session-metrics', code: 'PIPELINE_RUN_RECORD_FAILED' });
    }
    for (const sessionId of sessionIds) {
      this.itemFinished({ projectId, sessionId, status: 'failed', errorCode: error.code, attempt: at.attempt, durationMs });
    }
  }

  /**
   * The pipeline's own operational metrics, written in the transaction that records its runs: the
   * processing time of the attempt (one queued batch is one pipeline item) and one error per
   * failed session, labelled with the error code.
   */
  private async recordOperationalMetrics(tx: Db, durationMs: number, errorCodes: string[]): Promise<void> {
    const manager = tx as EntityManager;
    await this.collector.recordProcessingTime(manager, durationMs, { actor: 'session-metrics' });
    const counts = new Map<string, number>();
    for (const code of errorCodes) counts.set(code, (counts.get(code) ?? 0) + 1);
    for (const [code, count] of counts) await this.collector.recordError(manager, { actor: 'session-metrics', code }, { count });
  }

  /**
   * Called once per session each attempt, when it is done. The one place for per-item
   * observability (processing time and error per pipeline item): the operational-metrics
   * collector is wired in here.
   */
  private itemFinished(outcome: PipelineItemOutcome): void {
    if (outcome.status === 'failed') this.metrics.errors.inc({ actor: 'session-metrics', code: outcome.errorCode ?? 'UNKNOWN' });
  }
}
