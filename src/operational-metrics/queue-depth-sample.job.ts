import { Injectable, type OnModuleInit } from '@nestjs/common';
import { JobRegistry } from '../jobs/job-registry.js';
import { OperationalMetricsProcessor } from './operational-metrics.processor.js';

/** Job `queue-depth-sample` (QUEUE_DEPTH_SAMPLE_CRON, default every minute). */
@Injectable()
export class QueueDepthSampleJob implements OnModuleInit {
  constructor(
    private readonly registry: JobRegistry,
    private readonly processor: OperationalMetricsProcessor,
  ) {}

  onModuleInit(): void {
    this.registry.register({
      name: 'queue-depth-sample',
      description: 'Records the depth of every durable queue as a queue_depth metric of the service',
      scheduled: true,
      run: () => this.processor.sampleQueueDepths(),
    });
  }
}
