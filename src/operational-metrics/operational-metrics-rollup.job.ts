import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../common/config/config.module.js';
import type { AppConfig } from '../common/config/config.js';
import { JobRegistry } from '../jobs/job-registry.js';
import { OperationalMetricsProcessor } from './operational-metrics.processor.js';

/** Job `operational-metrics-rollup` (OPERATIONAL_ROLLUP_CRON, default 01:30 UTC). */
@Injectable()
export class OperationalMetricsRollupJob implements OnModuleInit {
  constructor(
    private readonly registry: JobRegistry,
    private readonly processor: OperationalMetricsProcessor,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.registry.register({
      name: 'operational-metrics-rollup',
      description: `Rolls raw operational metrics up into daily figures (count, sum, min, max, avg, p95) and deletes raw rows older than ${this.config.operationalMetrics.rawRetentionDays} days`,
      scheduled: true,
      run: (context) => this.processor.rollup(context.logger),
    });
  }
}
