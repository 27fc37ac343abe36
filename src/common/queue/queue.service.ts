/**
 * Durable per-item work on PostgreSQL (pg-boss, in the service's own database): each queue retries
 * a failed item with exponential backoff, three attempts in all, then moves it to `<queue>.dead`.
 * Features declare their queues with {@link QueueService.defineQueue} while the app initialises.
 */
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { PgBoss, type Job } from 'pg-boss';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { RepeatedErrors } from '../logging/repeated-errors.js';
import { MetricsRegistry } from '../observability/metrics.registry.js';

export const DATABASE_URL = Symbol('DATABASE_URL');

/** Thrown by a handler for an item that can never succeed: it is dead-lettered without retries. */
export class PermanentJobError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

export interface QueueItem<T> {
  id: string;
  data: T;
  /** 0 on the first attempt. */
  retryCount: number;
}

export interface QueueDefinition<T> {
  name: string;
  handler: (item: QueueItem<T>) => Promise<void>;
  /** Items fetched per poll (each still succeeds or fails on its own). */
  batchSize?: number;
  /** Attempts in all, first included. Default 3. */
  attempts?: number;
  /** Seconds before the first retry; doubles with each retry. Default 1. */
  retryDelaySeconds?: number;
  localConcurrency?: number;
  /** Fetch again at once (no polling pause) while fetches come back full: for backlogs of many items. Needs batchSize > 1. */
  burst?: boolean;
  /**
   * Wake this queue's idle workers the moment items are sent (LISTEN/NOTIFY) instead of at their
   * next poll, which costs up to the polling interval per hand-off. Polling stays on at the same
   * interval, for retries coming due and for a lost notification.
   */
  notify?: boolean;
}

export const QUEUE_DEFAULTS = { attempts: 3, retryDelaySeconds: 1, batchSize: 1, localConcurrency: 1 };

@Injectable()
export class QueueService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(QueueService.name);
  /** One line a minute per kind of queue error (see RepeatedErrors). */
  private readonly repeatedErrors = new RepeatedErrors(60_000);
  private readonly definitions = new Map<string, QueueDefinition<unknown>>();
  private boss: PgBoss | undefined;
  private started: Promise<PgBoss> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE_URL) private readonly databaseUrl: string,
    private readonly metrics: MetricsRegistry,
  ) {}

  defineQueue<T>(definition: QueueDefinition<T>): void {
    if (this.definitions.has(definition.name)) throw new Error(`Queue "${definition.name}" is defined twice`);
    if (this.started) throw new Error(`Queue "${definition.name}" defined after the queue service started`);
    this.definitions.set(definition.name, definition as QueueDefinition<unknown>);
  }

  queueNames(): string[] {
    return [...this.definitions.keys()];
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.start();
  }

  private start(): Promise<PgBoss> {
    this.started ??= (async () => {
      const boss = new PgBoss({
        connectionString: this.databaseUrl,
        schema: 'pgboss',
        max: 4,
        application_name: 'trailmark-queue',
        schedule: false,
        supervise: this.config.jobsEnabled,
        // One more connection, held for LISTEN, only where a queue asks to be woken.
        useListenNotify: this.config.jobsEnabled && [...this.definitions.values()].some((d) => d.notify),
      } as ConstructorParameters<typeof PgBoss>[0]);
      boss.on('error', (error) => {
        const { log, suppressed } = this.repeatedErrors.admit(error);
        if (log) this.logger.error({ err: error, ...(suppressed ? { repeatsLeftOut: suppressed } : {}) }, 'queue error');
      });
      await boss.start();
      for (const definition of this.definitions.values()) await this.createQueue(boss, definition);
      if (this.config.jobsEnabled) {
        for (const definition of this.definitions.values()) await this.work(boss, definition);
      }
      this.boss = boss;
      return boss;
    })();
    return this.started;
  }

  private async createQueue(boss: PgBoss, definition: QueueDefinition<unknown>): Promise<void> {
    const deadLetter = `${definition.name}.dead`;
    await boss.createQueue(deadLetter, { retentionSeconds: 30 * 24 * 3600 });
    const options = {
      retryLimit: (definition.attempts ?? QUEUE_DEFAULTS.attempts) - 1,
      retryDelay: definition.retryDelaySeconds ?? QUEUE_DEFAULTS.retryDelaySeconds,
      retryBackoff: true,
      retryDelayMax: 300,
      deadLetter,
      expireInSeconds: 15 * 60,
      notify: definition.notify ?? false,
    };
    if (await boss.getQueue(definition.name)) await boss.updateQueue(definition.name, options);
    else await boss.createQueue(definition.name, options);
  }

  private async work(boss: PgBoss, definition: QueueDefinition<unknown>): Promise<void> {
    const options = {
      batchSize: definition.batchSize ?? QUEUE_DEFAULTS.batchSize,
      localConcurrency: definition.localConcurrency ?? QUEUE_DEFAULTS.localConcurrency,
      pollingIntervalSeconds: 0.5,
      notifyPollingIntervalSeconds: 0.5,
      perJobResults: true,
      burstWhenBatchFull: definition.burst ?? false,
    } as const;
    await boss.work<unknown>(definition.name, options, async (jobs: Job<unknown>[]) => {
      const results = [];
      for (const job of jobs) {
        const startedAt = performance.now();
        const retryCount = (job as { retryCount?: number }).retryCount ?? 0;
        try {
          await definition.handler({ id: job.id, data: job.data, retryCount });
          this.metrics.queueJobDuration.observe({ queue: definition.name, status: 'succeeded' }, (performance.now() - startedAt) / 1000);
          results.push({ id: job.id, status: 'completed' as const });
        } catch (error) {
          this.metrics.queueJobDuration.observe({ queue: definition.name, status: 'failed' }, (performance.now() - startedAt) / 1000);
          const permanent = error instanceof PermanentJobError;
          this.logger.warn(
            { err: error, queue: definition.name, jobId: job.id, attempt: retryCount + 1, permanent },
            permanent ? 'queued item failed permanently; dead-lettered' : 'queued item failed; will retry if attempts remain',
          );
          results.push({
            id: job.id,
            status: permanent ? ('deadletter' as const) : ('failed' as const),
            output: { message: (error as Error).message, code: (error as { code?: string }).code ?? null },
          });
        }
      }
      return results;
    });
  }

  /** Enqueues one item; resolves to its job id. */
  async send<T extends object>(queue: string, data: T, options: { singletonKey?: string } = {}): Promise<string | null> {
    this.assertDefined(queue);
    const boss = await this.start();
    return boss.send(queue, data, options);
  }

  /** Enqueues many items in one statement. */
  async sendMany<T extends object>(queue: string, items: T[]): Promise<void> {
    this.assertDefined(queue);
    if (items.length === 0) return;
    const boss = await this.start();
    for (let i = 0; i < items.length; i += 1000) {
      await boss.insert(
        queue,
        items.slice(i, i + 1000).map((data) => ({ data })),
      );
    }
  }

  /** Items waiting (created or retrying) per queue, dead-letter queues included. */
  async depths(): Promise<Record<string, number>> {
    const boss = await this.start();
    const names = this.queueNames().flatMap((name) => [name, `${name}.dead`]);
    const queues = names.length ? await boss.getQueues(names) : [];
    const depths: Record<string, number> = {};
    for (const queue of queues) {
      const q = queue as unknown as { name: string; queuedCount?: number; totalCount?: number };
      depths[q.name] = q.queuedCount ?? 0;
    }
    return depths;
  }

  /**
   * Items waiting (created or retrying) in every queue pg-boss knows, dead-letter queues included,
   * counted now from `pgboss.job`: {@link depths} reads pg-boss's cached queue stats, which only
   * its supervisor refreshes (and not at all on an instance with JOBS_ENABLED=false).
   */
  async liveDepths(): Promise<Record<string, number>> {
    const boss = await this.start();
    const { rows } = await boss.getDb().executeSql(
      `SELECT q.name, count(j.id)::int AS depth
       FROM pgboss.queue q
       LEFT JOIN pgboss.job j ON j.name = q.name AND j.state IN ('created', 'retry')
       GROUP BY q.name
       ORDER BY q.name`,
    );
    return Object.fromEntries((rows as { name: string; depth: number }[]).map((row) => [row.name, row.depth]));
  }

  /** Stops fetching, lets items in hand finish (up to the shutdown timeout), then closes. */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.started) return;
    const boss = await this.started.catch(() => undefined);
    if (!boss) return;
    await boss.stop({ graceful: true, timeout: this.config.shutdownTimeoutMs, close: true });
  }

  private assertDefined(queue: string): void {
    if (!this.definitions.has(queue)) throw new Error(`Queue "${queue}" is not defined`);
  }
}
