import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../common/config/config.module.js';
import type { AppConfig } from '../common/config/config.js';
import { QueueService } from '../common/queue/queue.service.js';
import { SESSION_METRICS_QUEUE, type SessionMetricsJobData } from './session-metrics.constants.js';
import { SessionMetricsProcessor } from './session-metrics.processor.js';

/**
 * Queue `session-metrics`: one job per batch of session ids of one project. 3 attempts with
 * exponential backoff (1 s, 2 s), then `session-metrics.dead`; permanent errors go there at once.
 */
@Injectable()
export class SessionMetricsQueueJob implements OnModuleInit {
  constructor(
    private readonly queue: QueueService,
    private readonly processor: SessionMetricsProcessor,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.queue.defineQueue<SessionMetricsJobData>({
      name: SESSION_METRICS_QUEUE,
      attempts: 3,
      // Two jobs per fetch, fetched back to back while a backlog lasts (a sweep or a big
      // aggregation run hands on thousands of sessions at once); polling only when it runs dry.
      // Not more: a worker works its fetch one job after the other, so at the end of a backlog
      // the others sit idle while the last one still holds up to batchSize - 1 unstarted jobs.
      batchSize: 2,
      burst: true,
      notify: true,
      localConcurrency: this.config.sessionMetrics.concurrency,
      handler: async (item) => {
        await this.processor.processQueued(item);
      },
    });
  }
}
