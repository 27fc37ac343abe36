import { Inject, Injectable, type Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Clock } from '../common/clock/clock.js';
import { APP_CONFIG } from '../common/config/config.module.js';
import type { AppConfig } from '../common/config/config.js';
import { EventPartitionsService } from '../events/event-partitions.service.js';
import { SessionCompletionPublisher, type CompletedSession } from './session-completion.publisher.js';
import { SessionsRepository } from './sessions.repository.js';

export interface AggregationCounts {
  eventsRead: number;
  sessionsCreated: number;
  sessionsUpdated: number;
  sessionsCompleted: number;
  sessionsTimedOut: number;
  batches: number;
  lastReceivedAt: string | null;
  [key: string]: number | string | null;
}

/**
 * Incremental session aggregation: collect the sessions touched by new events (and the active
 * ones whose timeout has passed) into the rebuild queue, then rebuild them in batches, each batch
 * one set-based statement in its own transaction, then hand on the newly completed ones.
 */
@Injectable()
export class SessionAggregationService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly partitions: EventPartitionsService,
    private readonly completions: SessionCompletionPublisher,
    private readonly clock: Clock,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async run(options: { full?: boolean; logger?: Logger } = {}): Promise<AggregationCounts> {
    const now = this.clock.now();
    const batchSize = this.config.sessions.aggregationBatchSize;
    await this.partitions.ensureAhead();
    const collected = await this.sessions.collect(options.full === true);
    const sessionsTimedOut = await this.sessions.queueTimedOut(now);
    const total = await this.sessions.queuedCount();
    const counts: AggregationCounts = {
      eventsRead: collected.eventsRead,
      sessionsCreated: 0,
      sessionsUpdated: 0,
      sessionsCompleted: 0,
      sessionsTimedOut,
      batches: 0,
      lastReceivedAt: collected.lastReceivedAt ? new Date(collected.lastReceivedAt).toISOString() : null,
    };
    const started = Date.now();
    let done = 0;
    for (;;) {
      const { taken, changed } = await this.db.transaction((tx) => this.sessions.rebuildBatch(tx, now, batchSize));
      if (taken === 0) break;
      counts.batches++;
      done += taken;
      const completed: CompletedSession[] = [];
      for (const session of changed) {
        if (session.created) counts.sessionsCreated++;
        else counts.sessionsUpdated++;
        if (session.status === 'completed' && session.completedAt) {
          completed.push({ projectId: session.projectId, sessionId: session.sessionId, completedAt: session.completedAt });
        }
      }
      counts.sessionsCompleted += completed.length;
      await this.completions.publish(completed);
      const seconds = (Date.now() - started) / 1000;
      options.logger?.log({ done, total, sessionsPerSecond: Math.round(done / Math.max(seconds, 0.001)) }, 'sessions rebuilt');
    }
    return counts;
  }
}
