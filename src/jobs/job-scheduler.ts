import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob, CronTime } from 'cron';
import { APP_CONFIG } from '../common/config/config.module.js';
import type { AppConfig } from '../common/config/config.js';
import { Clock } from '../common/clock/clock.js';
import { JobRegistry } from './job-registry.js';
import { JobsService } from './jobs.service.js';

/**
 * Declares a @nestjs/schedule cron job for every scheduled job, from the schedule in config.
 * Each tick asks JobsService for the run of the current minute's slot; only one replica gets it.
 */
@Injectable()
export class JobScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(JobScheduler.name);

  constructor(
    private readonly registry: JobRegistry,
    private readonly jobs: JobsService,
    private readonly schedulerRegistry: SchedulerRegistry,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.registry.assertComplete(this.config.schedules);
    if (!this.config.jobsEnabled) return;
    for (const job of this.registry.all().filter((j) => j.scheduled)) {
      const cronJob = CronJob.from({
        cronTime: this.config.schedules[job.name],
        timeZone: 'UTC',
        onTick: () => this.tick(job.name),
        start: true,
      });
      this.schedulerRegistry.addCronJob(job.name, cronJob as never);
    }
  }

  /** Runs a slot; exported for tests that fire a tick without waiting for the clock. */
  async tick(name: string): Promise<void> {
    const slot = new Date(Math.floor(this.clock.now().getTime() / 60_000) * 60_000);
    try {
      await this.jobs.runScheduled(name, slot);
    } catch (error) {
      this.logger.error({ err: error, job: name, slot }, 'could not start a scheduled run');
    }
  }

  schedule(name: string): string | null {
    const job = this.registry.get(name);
    return job?.scheduled ? this.config.schedules[name] : null;
  }

  /**
   * The next slot of a scheduled job's cron (UTC); null for an unscheduled job. Also on an
   * instance that does not run jobs (JOBS_ENABLED=false): the replicas that do run it then.
   */
  nextRunAt(name: string): Date | null {
    if (this.schedulerRegistry.doesExist('cron', name)) {
      return (this.schedulerRegistry.getCronJob(name) as unknown as CronJob).nextDate().toJSDate();
    }
    const schedule = this.schedule(name);
    return schedule ? new CronTime(schedule, 'UTC').sendAt().toJSDate() : null;
  }

  onModuleDestroy(): void {
    for (const name of this.schedulerRegistry.getCronJobs().keys()) {
      this.schedulerRegistry.getCronJob(name).stop();
    }
  }
}
