import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG } from '../common/config/config.module.js';
import type { AppConfig } from '../common/config/config.js';
import { AppError } from '../common/errors/app-error.js';
import { decodeCursor, toPage } from '../common/pagination/cursor.js';
import { QueueService } from '../common/queue/queue.service.js';
import { toDateRange } from '../common/time/date-range.js';
import type { PipelineRunPageDto, PipelineRunsQueryDto, SessionMetricsDto, SessionMetricsStatsDto } from './dto/session-metrics.dto.js';
import { SessionMetricsProcessor } from './session-metrics.processor.js';
import { isValidSessionId, SESSION_METRICS_QUEUE, UUID_PATTERN, type SessionMetricsJobData } from './session-metrics.constants.js';
import { SessionMetricsRepository, type PipelineRun, type StoredSessionMetrics } from './session-metrics.repository.js';

/** Completed sessions the sweep reads per query. */
const SWEEP_PAGE = 10_000;

export interface EnqueuedSessions {
  sessions: number;
  jobs: number;
}

/** The session ids of `sessions`, per project, in their order (one pass: a batch holds thousands). */
export function sessionIdsByProject(sessions: readonly { projectId: string; sessionId: string }[]): Map<string, string[]> {
  const byProject = new Map<string, string[]>();
  for (const { projectId, sessionId } of sessions) {
    const ids = byProject.get(projectId);
    if (ids) ids.push(sessionId);
    else byProject.set(projectId, [sessionId]);
  }
  return byProject;
}

/**
 * Session quality metrics: the hand-off into the pipeline, reads of its results, and the stats.
 * Exported by SessionMetricsModule; {@link enqueueCompleted} is the pipeline's one entry point.
 */
@Injectable()
export class SessionMetricsService {
  private readonly logger = new Logger(SessionMetricsService.name);

  constructor(
    private readonly repository: SessionMetricsRepository,
    private readonly processor: SessionMetricsProcessor,
    private readonly queue: QueueService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * THE trigger of the metrics pipeline: hands sessions of one project that are newly completed
   * (or rebuilt after late events) to the durable `session-metrics` queue, one job per batch of
   * SESSION_METRICS_BATCH_SIZE ids. The session aggregation calls it for the sessions it marks
   * completed; the sweep job calls it for completed sessions without current metrics. Safe to
   * call twice for a session: a job skips sessions whose metrics are already current.
   * Throws SESSION_ID_INVALID (nothing enqueued) when an id is not 1–128 characters.
   */
  async enqueueCompleted(projectId: string, sessionIds: string[]): Promise<EnqueuedSessions> {
    const bad = sessionIds.filter((id) => !isValidSessionId(id));
    if (!UUID_PATTERN.test(projectId) || bad.length > 0) {
      throw new AppError('SESSION_ID_INVALID', `Cannot hand on sessions: project "${projectId}", ${bad.length} malformed session id(s).`, {
        extensions: { projectId, invalidSessionIds: bad.slice(0, 20) },
      });
    }
    // Sorted, so a batch is a run of neighbouring ids: its lookups, locks and inserts touch
    // neighbouring index pages instead of one page per session.
    const unique = [...new Set(sessionIds)].sort();
    const jobs: SessionMetricsJobData[] = [];
    for (let i = 0; i < unique.length; i += this.config.sessionMetrics.batchSize) {
      jobs.push({ projectId, sessionIds: unique.slice(i, i + this.config.sessionMetrics.batchSize) });
    }
    await this.queue.sendMany(SESSION_METRICS_QUEUE, jobs);
    return { sessions: unique.length, jobs: jobs.length };
  }

  /**
   * The sweep: every completed session with no metrics, or with metrics older than its last
   * aggregation, handed on again. Catches hand-offs that never happened (a crash between the
   * aggregation's commit and the enqueue) and late events.
   */
  async sweep(log: Logger = this.logger): Promise<{ sessionsEnqueued: number; jobsEnqueued: number }> {
    let sessionsEnqueued = 0;
    let jobsEnqueued = 0;
    let after: { projectId: string; sessionId: string } | undefined;
    for (;;) {
      const rows = await this.repository.findSessionsNeedingMetrics(SWEEP_PAGE, after);
      if (rows.length === 0) break;
      for (const [projectId, ids] of sessionIdsByProject(rows)) {
        const enqueued = await this.enqueueCompleted(projectId, ids);
        sessionsEnqueued += enqueued.sessions;
        jobsEnqueued += enqueued.jobs;
      }
      after = rows[rows.length - 1];
      log.log({ sessionsEnqueued, jobsEnqueued }, 'session metrics sweep progress');
      if (rows.length < SWEEP_PAGE) break;
    }
    return { sessionsEnqueued, jobsEnqueued };
  }

  async getMetrics(projectId: string, sessionId: string): Promise<SessionMetricsDto> {
    assertSessionId(sessionId);
    const metrics = await this.repository.findMetrics(projectId, sessionId);
    if (metrics) return toMetricsDto(metrics);
    if (!(await this.repository.sessionExists(projectId, sessionId))) {
      throw new AppError('SESSION_NOT_FOUND', `No session "${sessionId}" in this project.`);
    }
    throw new AppError('SESSION_METRICS_NOT_FOUND', `Session "${sessionId}" has no metrics yet (it is active, or not processed yet).`);
  }

  /** Runs the whole pipeline for one session now (the single-session path) and answers its metrics or its error. */
  async recompute(projectId: string, sessionId: string): Promise<SessionMetricsDto> {
    assertSessionId(sessionId);
    const result = await this.processor.process({ projectId, sessionIds: [sessionId], attempt: 1, jobId: null, force: true });
    if (result.failed.length > 0) throw result.failed[0].error;
    return toMetricsDto({ ...result.stored.get(sessionId)!, computedAt: result.computedAt });
  }

  async listRuns(projectId: string, query: PipelineRunsQueryDto): Promise<PipelineRunPageDto> {
    const key = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const before = key ? { startedAt: String(key[0]), id: String(key[1]) } : undefined;
    const rows = await this.repository.listRuns(projectId, { status: query.status, sessionId: query.sessionId }, query.limit + 1, before);
    return toPage(rows, query.limit, toRunDto, (r) => [r.startedAt.toISOString(), r.id]);
  }

  async stats(projectId: string, fromText?: string, toText?: string): Promise<SessionMetricsStatsDto> {
    const { from, to } = toDateRange(fromText, toText);
    const s = await this.repository.stats(projectId, from, to);
    return {
      from: from?.toISOString() ?? null,
      to: to?.toISOString() ?? null,
      sessions: s.sessions,
      timeToFirstDraft: {
        sessions: s.sessionsWithDraft,
        avgMs: s.timeToFirstDraftAvgMs,
        p50Ms: s.timeToFirstDraftP50Ms,
        p90Ms: s.timeToFirstDraftP90Ms,
      },
      completionRateMean: s.completionRateMean,
      confirmationRateMean: s.confirmationRateMean,
      signalDensityMean: s.signalDensityMean,
      dropOffRate: s.dropOffRate,
    };
  }
}

function assertSessionId(sessionId: string): void {
  if (!isValidSessionId(sessionId)) throw new AppError('SESSION_ID_INVALID', 'A session id is 1–128 characters.');
}

function toMetricsDto(m: StoredSessionMetrics): SessionMetricsDto {
  return {
    sessionId: m.sessionId,
    timeToFirstDraftMs: m.timeToFirstDraftMs,
    completionRate: m.completionRate,
    confirmationRate: m.confirmationRate,
    signalDensity: m.signalDensity,
    droppedOff: m.droppedOff,
    dropOffStep: m.dropOffStep,
    computedAt: m.computedAt.toISOString(),
  };
}

function toRunDto(r: PipelineRun) {
  return {
    id: r.id,
    sessionId: r.sessionId,
    status: r.status,
    errorCode: r.errorCode,
    errorMessage: r.errorMessage,
    attempt: r.attempt,
    jobId: r.jobId,
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt.toISOString(),
    durationMs: r.durationMs,
  };
}
