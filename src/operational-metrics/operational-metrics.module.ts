/**
 * Operational metrics (spec §3): raw samples recorded by a collector in the caller's transaction,
 * a daily rollup with p95 and 30-day raw retention, the client API, and the service's own metrics.
 */
import { Global, Module } from '@nestjs/common';
import { ProjectsModule } from '../projects/projects.module.js';
import { OperationalMetricsRollupJob } from './operational-metrics-rollup.job.js';
import { OperationalMetricsCollector } from './operational-metrics.collector.js';
import { ProjectOperationalMetricsController, SystemOperationalMetricsController } from './operational-metrics.controller.js';
import { OperationalMetricsProcessor } from './operational-metrics.processor.js';
import { OperationalMetricsRepository } from './operational-metrics.repository.js';
import { OperationalMetricsService } from './operational-metrics.service.js';
import { QueueDepthSampleJob } from './queue-depth-sample.job.js';

/**
 * The collector alone, global: the jobs runner (itself global, and used by this feature's jobs)
 * and any feature recording its own work reach it without importing the whole feature.
 */
@Global()
@Module({
  providers: [OperationalMetricsCollector, OperationalMetricsRepository],
  exports: [OperationalMetricsCollector],
})
export class OperationalMetricsCollectorModule {}

@Module({
  imports: [ProjectsModule],
  controllers: [ProjectOperationalMetricsController, SystemOperationalMetricsController],
  providers: [OperationalMetricsRepository, OperationalMetricsService, OperationalMetricsProcessor, OperationalMetricsRollupJob, QueueDepthSampleJob],
  exports: [OperationalMetricsProcessor],
})
export class OperationalMetricsModule {}
