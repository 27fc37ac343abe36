/**
 * The service's own bookkeeping in operational metrics: the daily rollup with raw retention, the
 * queue-depth sample, and 5xx answers. Each use case decides its own transaction here.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Clock } from '../common/clock/clock.js';
import { APP_CONFIG } from '../common/config/config.module.js';
import type { AppConfig } from '../common/config/config.js';
import { MetricsRegistry } from '../common/observability/metrics.registry.js';
import { QueueService } from '../common/queue/queue.service.js';
import { rawRetentionCutoff, startOfUtcDay } from './metric-types.js';
import { OperationalMetricsCollector } from './operational-metrics.collector.js';
import { OperationalMetricsRepository } from './operational-metrics.repository.js';

/** Days rolled up per statement: bounds the sort each statement does while keeping it set-based. */
export const ROLLUP_DAYS_PER_BATCH = 7;

export interface RollupCounts {
  [count: string]: number | string;
  daysRolled: number;
  rowsUpserted: number;
  rawRowsDeleted: number;
  retentionCutoff: string;
}

@Injectable()
export class OperationalMetricsProcessor {
  private readonly logger = new Logger(OperationalMetricsProcessor.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly metrics: OperationalMetricsRepository,
    private readonly collector: OperationalMetricsCollector,
    private readonly queues: QueueService,
    private readonly prometheus: MetricsRegistry,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Rolls up every complete UTC day not rolled up yet or changed since the last run, then deletes
   * raw rows older than the retention window (never of a day still to roll up). Safe to rerun:
   * the upsert leaves unchanged rows alone, and the state only moves forward after all days are in.
   */
  async rollup(logger: Logger = this.logger): Promise<RollupCounts> {
    const now = this.clock.now();
    const today = startOfUtcDay(now).toISOString().slice(0, 10);
    const previous = await this.metrics.rollupState(this.db);
    // Taken before reading the days, so every row received before it is seen by what follows.
    const receivedWatermark = await this.metrics.safeReceivedCutoff(this.db);
    const days = await this.metrics.daysToRoll(this.db, today, previous);

    let rowsUpserted = 0;
    for (let i = 0; i < days.length; i += ROLLUP_DAYS_PER_BATCH) {
      const batch = days.slice(i, i + ROLLUP_DAYS_PER_BATCH);
      rowsUpserted += await this.metrics.rollupDays(this.db, batch, now);
      logger.log({ days: batch, done: i + batch.length, total: days.length, rowsUpserted }, 'operational metrics days rolled up');
    }

    const retentionCutoff = rawRetentionCutoff(now, this.config.operationalMetrics.rawRetentionDays);
    const next = { receivedWatermark, rolledThrough: today > previous.rolledThrough ? today : previous.rolledThrough };
    const rawRowsDeleted = await this.db.transaction(async (tx) => {
      await this.metrics.saveRollupState(tx, next);
      return this.metrics.deleteRawBefore(tx, retentionCutoff, next);
    });
    return { daysRolled: days.length, rowsUpserted, rawRowsDeleted, retentionCutoff: retentionCutoff.toISOString() };
  }

  /** One queue_depth sample per pg-boss queue (dead letters included) into the system project. */
  async sampleQueueDepths(): Promise<{ queuesSampled: number }> {
    const depths = await this.queues.liveDepths();
    const recordedAt = this.clock.now();
    await this.db.transaction(async (tx) => {
      for (const [queue, depth] of Object.entries(depths)) {
        await this.collector.recordQueueDepth(tx, depth, { queue }, { recordedAt });
      }
    });
    for (const [queue, depth] of Object.entries(depths)) this.prometheus.queueDepth.set({ queue }, depth);
    return { queuesSampled: Object.keys(depths).length };
  }

  /** An error for a 5xx answer (no transaction of its own work survives one, so it commits alone). */
  async recordHttpError(status: number): Promise<void> {
    try {
      await this.collector.recordError(this.db.manager, { actor: 'http', code: `HTTP_${status}` });
    } catch (error) {
      this.logger.warn({ err: error, status }, 'could not record a 5xx answer in operational metrics');
    }
  }
}
