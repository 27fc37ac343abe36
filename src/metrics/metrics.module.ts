/**
 * The metrics read model: the catalogue, the `metrics-compute` and `metrics-retention` jobs that
 * fill and prune metrics_summary / _trend_point / _breakdown_point / _drilldown, and the Metrics API.
 */
import { Module } from '@nestjs/common';
import { ProjectsModule } from '../projects/projects.module.js';
import { MetricsComputeJob } from './metrics-compute.job.js';
import { MetricsComputeService } from './metrics-compute.service.js';
import { MetricsReadModelRepository } from './metrics-read-model.repository.js';
import { MetricsRetentionJob } from './metrics-retention.job.js';
import { MetricsRetentionService } from './metrics-retention.service.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';

@Module({
  imports: [ProjectsModule],
  controllers: [MetricsController],
  providers: [MetricsReadModelRepository, MetricsService, MetricsComputeService, MetricsRetentionService, MetricsComputeJob, MetricsRetentionJob],
  exports: [MetricsComputeService],
})
export class MetricsModule {}
