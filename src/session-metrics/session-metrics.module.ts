/**
 * Session quality metrics (spec §3, seed session-metrics-pipeline): a durable pipeline computing
 * five metrics per completed session, its run record, and the read/stats API. Other features hand
 * sessions in through SessionMetricsService.enqueueCompleted, nothing else.
 */
import { Module } from '@nestjs/common';
import { SessionsModule } from '../sessions/sessions.module.js';
import { SessionCompletionListenerForMetrics } from './session-completion.listener.js';
import { SessionMetricsController } from './session-metrics.controller.js';
import { SessionMetricsProcessor } from './session-metrics.processor.js';
import { SessionMetricsQueueJob } from './session-metrics-queue.job.js';
import { SessionMetricsRepository } from './session-metrics.repository.js';
import { SessionMetricsService } from './session-metrics.service.js';
import { SessionMetricsSweepJob } from './session-metrics-sweep.job.js';
import { SessionMetricsVerifier } from './session-metrics.verifier.js';

@Module({
  imports: [SessionsModule],
  controllers: [SessionMetricsController],
  providers: [
    SessionCompletionListenerForMetrics,
    SessionMetricsRepository,
    SessionMetricsVerifier,
    SessionMetricsProcessor,
    SessionMetricsService,
    SessionMetricsQueueJob,
    SessionMetricsSweepJob,
  ],
  exports: [SessionMetricsService],
})
export class SessionMetricsModule {}
