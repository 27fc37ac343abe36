import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../common/config/config.module.js';
import type { AppConfig } from '../common/config/config.js';
import { JobRegistry } from '../jobs/job-registry.js';
import { JobsService } from '../jobs/jobs.service.js';
import { MetricsComputeService } from './metrics-compute.service.js';

/**
 * Job `metrics-compute`: cron METRICS_COMPUTE_CRON (default minute 5 of every hour), manual runs
 * (`{ "full": true }` rebuilds everything), and — where this instance runs jobs — a run right after
 * each successful `session-aggregation` run.
 */
@Injectable()
export class MetricsComputeJob implements OnModuleInit {
  private readonly logger = new Logger(MetricsComputeJob.name);

  constructor(
    private readonly registry: JobRegistry,
    private readonly jobs: JobsService,
    private readonly compute: MetricsComputeService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.registry.register({
      name: 'metrics-compute',
      description: 'Recomputes the metrics read model buckets whose sources changed (full: everything) and snapshots summaries',
      scheduled: true,
      acceptsFull: true,
      run: ({ params, logger }) => this.compute.run({ full: params.full === true, logger }),
    });
    if (this.config.jobsEnabled) {
      // A run already in flight picks the new sessions up, or the next one does.
      this.registry.onFinished('session-aggregation', async () => void (await this.jobs.runChained('metrics-compute', 'session-aggregation')));
    }
  }
}
