import { Injectable, type OnModuleInit } from '@nestjs/common';
import { JobRegistry } from '../jobs/job-registry.js';
import { OnboardingProcessor } from './onboarding.processor.js';

/** Job `kpi-event-retry` (KPI_EVENT_RETRY_CRON): records the KPI events whose first recording failed. */
@Injectable()
export class KpiEventRetryJob implements OnModuleInit {
  constructor(
    private readonly registry: JobRegistry,
    private readonly processor: OnboardingProcessor,
  ) {}

  onModuleInit(): void {
    this.registry.register({
      name: 'kpi-event-retry',
      description: 'Records KPI events that failed (or stayed pending) when their onboarding step was completed',
      scheduled: true,
      run: () => this.processor.retryUnrecorded(),
    });
  }
}
