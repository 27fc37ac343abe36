/**
 * Runs jobs: records each run in `job_runs`, executes it in this process, and keeps at most one
 * run of a job in flight across every replica (a unique index on in-flight runs). Scheduled runs
 * claim their slot with a unique (job, scheduled_for) row, so replicas whose crons fire together
 * run it once.
 */
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG } from '../common/config/config.module.js';
import type { AppConfig } from '../common/config/config.js';
import { AppError } from '../common/errors/app-error.js';
import { MetricsRegistry } from '../common/observability/metrics.registry.js';
import { decodeCursor, toPage, type Page } from '../common/pagination/cursor.js';
import { OperationalMetricsCollector } from '../operational-metrics/operational-metrics.collector.js';
import { JobRegistry, type JobCounts, type JobDefinition } from './job-registry.js';
import { JobRunsRepository, type JobRun, type JobTrigger } from './job-runs.repository.js';

/** A failure's own code when it carries one (AppError, PermanentJobError), for the error metrics. */
function errorCodeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,127}$/.test(code) ? code : undefined;
}

const HEARTBEAT_MS = 15_000;

export interface StartedRun {
  run: JobRun;
  /** Settles with the finished run; never rejects (a failure is recorded on the run). */
  finished: Promise<JobRun>;
}

@Injectable()
export class JobsService implements OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger(JobsService.name);
  /** The runs executing in this process, by run id. */
  private readonly inFlight = new Map<string, Promise<JobRun>>();
  private accepting = true;

  constructor(
    private readonly registry: JobRegistry,
    private readonly runs: JobRunsRepository,
    private readonly metrics: MetricsRegistry,
    private readonly collector: OperationalMetricsCollector,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  definition(name: string): JobDefinition {
    const definition = this.registry.get(name);
    if (!definition) throw new AppError('JOB_NOT_FOUND', `No job named "${name}".`);
    return definition;
  }

  definitions(): JobDefinition[] {
    return this.registry.all();
  }

  /** Starts a manual run; JOB_ALREADY_RUNNING when one is in flight. */
  async runNow(name: string, params: Record<string, unknown> = {}): Promise<StartedRun> {
    const started = await this.start(name, 'manual', null, params);
    if (!started) throw new AppError('JOB_ALREADY_RUNNING', `A run of "${name}" is already in flight.`);
    return started;
  }

  /**
   * Starts a run that follows a successful run of job `after` (recorded as `chained`, with
   * `params.after`); undefined when a run of `name` is already in flight, which will see the same
   * changes or leave them to the next run.
   */
  async runChained(name: string, after: string): Promise<StartedRun | undefined> {
    return this.start(name, 'chained', null, { after });
  }

  /** Starts the run of a schedule slot, unless another replica took the slot or a run is in flight. */
  async runScheduled(name: string, scheduledFor: Date): Promise<StartedRun | undefined> {
    const started = await this.start(name, 'schedule', scheduledFor, {});
    if (!started) this.logger.debug({ job: name, scheduledFor }, 'scheduled run skipped: slot taken or run in flight');
    return started;
  }

  private async start(
    name: string,
    trigger: JobTrigger,
    scheduledFor: Date | null,
    params: Record<string, unknown>,
  ): Promise<StartedRun | undefined> {
    const definition = this.definition(name);
    if (!this.accepting) throw new AppError('SERVICE_UNAVAILABLE', 'The service is shutting down.');
    const abandoned = await this.runs.failAbandoned(name);
    if (abandoned) this.logger.warn({ job: name, abandoned }, 'failed runs abandoned by a stopped process');
    const run = await this.runs.insertQueued({ jobName: name, trigger, scheduledFor, params });
    if (!run) return undefined;
    const finished = this.execute(run, definition);
    this.inFlight.set(run.id, finished);
    void finished.finally(() => this.inFlight.delete(run.id));
    return { run, finished };
  }

  private async execute(run: JobRun, definition: JobDefinition): Promise<JobRun> {
    const logger = new Logger(`job:${definition.name}`);
    const startedAt = performance.now();
    const heartbeat = setInterval(() => {
      this.runs.heartbeat(run.id).catch((error: unknown) => logger.warn({ err: error, runId: run.id }, 'heartbeat failed'));
    }, HEARTBEAT_MS);
    let status: 'succeeded' | 'failed' = 'succeeded';
    let counts: JobCounts = {};
    let errorMessage: string | null = null;
    let errorCode = 'JOB_RUN_FAILED';
    try {
      await this.runs.markRunning(run.id);
      logger.log({ runId: run.id, trigger: run.trigger, params: run.params }, 'job run started');
      counts = await definition.run({ runId: run.id, trigger: run.trigger, params: run.params, logger });
    } catch (error) {
      status = 'failed';
      errorMessage = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      errorCode = errorCodeOf(error) ?? errorCode;
      logger.error({ err: error, runId: run.id }, 'job run failed');
    } finally {
      clearInterval(heartbeat);
    }
    const durationMs = Math.round(performance.now() - startedAt);
    this.metrics.jobRunDuration.observe({ job: definition.name, status }, durationMs / 1000);
    if (status === 'failed') this.metrics.errors.inc({ actor: definition.name, code: errorCode });
    try {
      // The run's own operational metrics commit with its final record, or not at all.
      const finished = await this.db.transaction(async (tx) => {
        const actor = { actor: definition.name };
        await this.collector.recordProcessingTime(tx, durationMs, actor);
        if (status === 'failed') await this.collector.recordError(tx, { ...actor, code: errorCode });
        return this.runs.finish(run.id, { status, counts, error: errorMessage, durationMs }, tx);
      });
      logger.log({ runId: run.id, status, durationMs, counts }, 'job run finished');
      if (status === 'succeeded') this.notifyFinished(definition.name, logger);
      return finished;
    } catch (error) {
      logger.error({ err: error, runId: run.id, status }, 'could not record the end of a job run');
      return { ...run, status, counts, error: errorMessage, durationMs, finishedAt: new Date() };
    }
  }

  /** Starts what waits on a successful run of `name`; never delays or fails the run itself. */
  private notifyFinished(name: string, logger: Logger): void {
    for (const listener of this.registry.finishedListenersOf(name)) {
      listener().catch((error: unknown) => logger.error({ err: error, job: name }, 'job finished listener failed'));
    }
  }

  async listRuns(name: string, limit: number, cursor?: string): Promise<Page<JobRun>> {
    this.definition(name);
    const key = decodeCursor(cursor, ['timestamp', 'uuid']);
    const rows = await this.runs.list(name, limit + 1, key ? { createdAt: String(key[0]), id: String(key[1]) } : undefined);
    return toPage(
      rows,
      limit,
      (row) => row,
      (row) => [row.createdAt.toISOString(), row.id],
    );
  }

  async getRun(name: string, runId: string): Promise<JobRun> {
    this.definition(name);
    const run = /^[0-9a-f-]{36}$/i.test(runId) ? await this.runs.findById(name, runId) : undefined;
    if (!run) throw new AppError('JOB_RUN_NOT_FOUND', `No run "${runId}" of job "${name}".`);
    return run;
  }

  latestRuns(): Promise<Map<string, JobRun>> {
    return this.runs.latestPerJob();
  }

  /**
   * Refuses new runs and waits for the ones in flight, up to the shutdown timeout. Runs still going
   * then are recorded as failed before the connections close, so they do not block the job's next
   * run until their heartbeat goes stale. A statement such a run has already sent may still
   * complete and commit (closing the pool waits for it); every job is safe to rerun from there.
   */
  async onModuleDestroy(): Promise<void> {
    this.accepting = false;
    if (this.inFlight.size === 0) return;
    this.logger.log({ runs: this.inFlight.size }, 'waiting for job runs in flight before shutting down');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), this.config.shutdownTimeoutMs).unref());
    const outcome = await Promise.race([Promise.allSettled([...this.inFlight.values()]).then(() => 'done' as const), timeout]);
    if (outcome === 'timeout') {
      const runIds = [...this.inFlight.keys()];
      const failed = await this.runs.failInterrupted(runIds, this.config.shutdownTimeoutMs);
      this.logger.warn(
        { runIds, failed },
        'job runs still in flight at the shutdown timeout recorded as failed; the next run of each job starts afresh',
      );
    }
  }

  onApplicationShutdown(): void {
    this.inFlight.clear();
  }
}
