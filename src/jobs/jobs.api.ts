import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import type { JobDto, JobListDto, JobRunDto, JobRunPageDto, StartedJobRunDto } from './dto/job.dto.js';
import { JobScheduler } from './job-scheduler.js';
import type { JobRun } from './job-runs.repository.js';
import { JobsService } from './jobs.service.js';

export function toJobRunDto(run: JobRun): JobRunDto {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: run.id,
    jobName: run.jobName,
    trigger: run.trigger,
    status: run.status,
    scheduledFor: iso(run.scheduledFor),
    params: run.params,
    counts: run.counts,
    error: run.error,
    createdAt: run.createdAt.toISOString(),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    durationMs: run.durationMs,
  };
}

/** The jobs admin API's view: shapes JobsService results into response DTOs. */
@Injectable()
export class JobsApi {
  constructor(
    private readonly jobs: JobsService,
    private readonly scheduler: JobScheduler,
  ) {}

  async list(): Promise<JobListDto> {
    const latest = await this.jobs.latestRuns();
    const data: JobDto[] = this.jobs.definitions().map((job) => {
      const last = latest.get(job.name);
      return {
        name: job.name,
        description: job.description,
        schedule: this.scheduler.schedule(job.name),
        nextRunAt: this.scheduler.nextRunAt(job.name)?.toISOString() ?? null,
        lastRun: last ? toJobRunDto(last) : null,
      };
    });
    return { data };
  }

  async start(name: string, params: Record<string, unknown>): Promise<StartedJobRunDto> {
    this.checkParams(name, params);
    const { run } = await this.jobs.runNow(name, params);
    return { runId: run.id, status: run.status };
  }

  async runAndWait(name: string, params: Record<string, unknown>): Promise<JobRunDto> {
    this.checkParams(name, params);
    const { finished } = await this.jobs.runNow(name, params);
    return toJobRunDto(await finished);
  }

  /** A run's options must be ones its job takes: `full` only where the job can redo everything. */
  private checkParams(name: string, params: Record<string, unknown>): void {
    const definition = this.jobs.definition(name);
    if (params.full !== undefined && !definition.acceptsFull) {
      throw AppError.validation([{ field: 'full', message: `job ${name} has no full run; it takes no options` }]);
    }
  }

  async listRuns(name: string, limit: number, cursor?: string): Promise<JobRunPageDto> {
    const page = await this.jobs.listRuns(name, limit, cursor);
    return { data: page.data.map(toJobRunDto), nextCursor: page.nextCursor };
  }

  async getRun(name: string, runId: string): Promise<JobRunDto> {
    return toJobRunDto(await this.jobs.getRun(name, runId));
  }
}
