/**
 * Job machinery every feature uses: the registry of jobs, their cron schedules, the record of
 * runs, the admin API, and the durable queue for per-item work. Features register their jobs in
 * `onModuleInit` through JobRegistry and define queues through QueueService.
 */
import { Global, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { QueueService } from '../common/queue/queue.service.js';
import { JobRegistry } from './job-registry.js';
import { JobRunsPruneJob } from './job-runs-prune.job.js';
import { JobRunsRepository } from './job-runs.repository.js';
import { JobScheduler } from './job-scheduler.js';
import { JobsApi } from './jobs.api.js';
import { JobsController } from './jobs.controller.js';
import { JobsService } from './jobs.service.js';

@Global()
@Module({
  imports: [ScheduleModule.forRoot()],
  controllers: [JobsController],
  providers: [JobRegistry, JobRunsRepository, JobsService, JobScheduler, JobsApi, JobRunsPruneJob, QueueService],
  exports: [JobRegistry, JobsService, JobScheduler, QueueService],
})
export class JobsModule {}
