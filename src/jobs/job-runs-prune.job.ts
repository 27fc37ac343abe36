import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../common/config/config.module.js';
import type { AppConfig } from '../common/config/config.js';
import { Clock } from '../common/clock/clock.js';
import { JobRegistry } from './job-registry.js';
import { JobRunsRepository } from './job-runs.repository.js';

/** Job `job-runs-prune`: keeps `job_runs` to JOB_RUNS_RETENTION_DAYS (the last run of each job stays). */
@Injectable()
export class JobRunsPruneJob implements OnModuleInit {
  constructor(
    private readonly registry: JobRegistry,
    private readonly runs: JobRunsRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.registry.register({
      name: 'job-runs-prune',
      description: `Deletes finished job runs older than ${this.config.jobRunsRetentionDays} days`,
      scheduled: true,
      run: async () => {
        const cutoff = new Date(this.clock.now().getTime() - this.config.jobRunsRetentionDays * 86_400_000);
        return { runsDeleted: await this.runs.deleteFinishedBefore(cutoff), cutoff: cutoff.toISOString() };
      },
    });
  }
}
