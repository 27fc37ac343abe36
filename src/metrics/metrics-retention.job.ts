import { Injectable, type OnModuleInit } from '@nestjs/common';
import { JobRegistry } from '../jobs/job-registry.js';
import { MetricsRetentionService } from './metrics-retention.service.js';

/** Job `metrics-retention`: cron METRICS_RETENTION_CRON (default 02:15 UTC daily). */
@Injectable()
export class MetricsRetentionJob implements OnModuleInit {
  constructor(
    private readonly registry: JobRegistry,
    private readonly retention: MetricsRetentionService,
  ) {}

  onModuleInit(): void {
    this.registry.register({
      name: 'metrics-retention',
      description:
        'Deletes read-model rows past retention: summaries 180 d (daily after 30 d), hour/day trend points 90 d, breakdowns 90 d, drilldowns 30 d',
      scheduled: true,
      run: () => this.retention.run(),
    });
  }
}
