import { Injectable, type OnModuleInit } from '@nestjs/common';
import { JobRegistry } from '../jobs/job-registry.js';
import { SessionAggregationService } from './session-aggregation.service.js';

/** Job `session-aggregation`: cron SESSION_AGGREGATION_CRON (default every 4 hours), or manual (`{ "full": true }` re-reads every event). */
@Injectable()
export class SessionAggregationJob implements OnModuleInit {
  constructor(
    private readonly registry: JobRegistry,
    private readonly aggregation: SessionAggregationService,
  ) {}

  onModuleInit(): void {
    this.registry.register({
      name: 'session-aggregation',
      description: 'Rebuilds the sessions touched by new events and completes timed-out sessions',
      scheduled: true,
      acceptsFull: true,
      run: ({ params, logger }) => this.aggregation.run({ full: params.full === true, logger }),
    });
  }
}
