import { Injectable, type OnModuleInit } from '@nestjs/common';
import { JobRegistry } from '../jobs/job-registry.js';
import { SESSION_METRICS_SWEEP_JOB } from './session-metrics.constants.js';
import { SessionMetricsService } from './session-metrics.service.js';

/** Job `session-metrics-sweep` (SESSION_METRICS_SWEEP_CRON, hourly): re-hands completed sessions without current metrics. */
@Injectable()
export class SessionMetricsSweepJob implements OnModuleInit {
  constructor(
    private readonly registry: JobRegistry,
    private readonly sessionMetrics: SessionMetricsService,
  ) {}

  onModuleInit(): void {
    this.registry.register({
      name: SESSION_METRICS_SWEEP_JOB,
      description: 'Enqueues completed sessions that have no metrics, or metrics older than their last aggregation',
      scheduled: true,
      run: (context) => this.sessionMetrics.sweep(context.logger),
    });
  }
}
