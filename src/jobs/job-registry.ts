import { Injectable, Logger } from '@nestjs/common';
import type { JobTrigger } from './job-runs.repository.js';

/** Every job the service runs. Boot fails unless each has exactly one registered handler. */
export const JOB_NAMES = [
  'job-runs-prune',
  'session-aggregation',
  'session-metrics-sweep',
  'kpi-event-retry',
  'operational-metrics-rollup',
  'queue-depth-sample',
  'metrics-compute',
  'metrics-retention',
] as const;

export type JobCounts = Record<string, number | string | boolean | null>;

export interface JobContext {
  runId: string;
  trigger: JobTrigger;
  /** Options of a manual run, e.g. `{ full: true }`. */
  params: Record<string, unknown>;
  logger: Logger;
}

export interface JobDefinition {
  name: string;
  description: string;
  /** Scheduled jobs take their cron expression from config (`<NAME>_CRON`). */
  scheduled: boolean;
  /** Whether a manual run may ask `{ full: true }` (redo everything); the API refuses it for the others. */
  acceptsFull?: boolean;
  /** Does the work; resolves to the counts recorded on the run. Must be safe to rerun. */
  run(context: JobContext): Promise<JobCounts>;
}

/** One list of jobs, filled by feature modules as they initialise (immich's job registry shape). */
@Injectable()
export class JobRegistry {
  private readonly jobs = new Map<string, JobDefinition>();
  private readonly finishedListeners = new Map<string, (() => Promise<void>)[]>();

  register(definition: JobDefinition): void {
    if (this.jobs.has(definition.name)) throw new Error(`Job "${definition.name}" has two handlers`);
    this.jobs.set(definition.name, definition);
  }

  /** Runs `listener` after each successful run of job `name` (e.g. metrics-compute after session-aggregation). */
  onFinished(name: string, listener: () => Promise<void>): void {
    this.finishedListeners.set(name, [...(this.finishedListeners.get(name) ?? []), listener]);
  }

  finishedListenersOf(name: string): (() => Promise<void>)[] {
    return this.finishedListeners.get(name) ?? [];
  }

  get(name: string): JobDefinition | undefined {
    return this.jobs.get(name);
  }

  all(): JobDefinition[] {
    return [...this.jobs.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  assertComplete(schedules: Record<string, string>): void {
    const missing = JOB_NAMES.filter((name) => !this.jobs.has(name));
    if (missing.length) throw new Error(`Jobs without a handler: ${missing.join(', ')}`);
    const unscheduled = this.all().filter((job) => job.scheduled && !schedules[job.name]);
    if (unscheduled.length) {
      throw new Error(`Scheduled jobs without a schedule in config: ${unscheduled.map((j) => j.name).join(', ')}`);
    }
  }
}
