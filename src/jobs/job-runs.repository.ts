import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { execute, queryOne, queryRows, type Db } from '../common/database/sql.js';
import type { JobCounts } from './job-registry.js';

export type JobRunStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface JobRun {
  id: string;
  jobName: string;
  trigger: JobTrigger;
  status: JobRunStatus;
  scheduledFor: Date | null;
  params: Record<string, unknown>;
  counts: JobCounts;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  durationMs: number | null;
}

const COLUMNS = `id, job_name AS "jobName", trigger, status, scheduled_for AS "scheduledFor", params, counts, error,
  created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt", duration_ms AS "durationMs"`;

/**
 * What started a run: its schedule, an API call, or the success of another job's run that it
 * follows (metrics-compute after session-aggregation; `params.after` names that job).
 */
export type JobTrigger = 'schedule' | 'manual' | 'chained';

/** A run whose process stopped sending heartbeats this long ago is taken as abandoned. */
export const ABANDONED_AFTER_SECONDS = 120;

@Injectable()
export class JobRunsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Records a new run as queued, or returns undefined when the job already has a run in flight or
   * (for a scheduled run) another replica already took this slot.
   */
  async insertQueued(run: {
    jobName: string;
    trigger: JobTrigger;
    scheduledFor: Date | null;
    params: Record<string, unknown>;
  }): Promise<JobRun | undefined> {
    return queryOne<JobRun>(
      this.db,
      `INSERT INTO job_runs (job_name, trigger, status, scheduled_for, params, heartbeat_at)
       VALUES ($1, $2, 'queued', $3, $4, now())
       ON CONFLICT DO NOTHING
       RETURNING ${COLUMNS}`,
      [run.jobName, run.trigger, run.scheduledFor, JSON.stringify(run.params)],
    );
  }

  /** Fails runs left in flight by a process that died, so they no longer block new runs. */
  async failAbandoned(jobName: string): Promise<number> {
    return execute(
      this.db,
      `UPDATE job_runs
       SET status = 'failed', finished_at = now(),
           error = 'abandoned: the process running it stopped without finishing'
       WHERE job_name = $1 AND status IN ('queued', 'running')
         AND heartbeat_at < now() - make_interval(secs => $2)`,
      [jobName, ABANDONED_AFTER_SECONDS],
    );
  }

  /** Fails runs of this process that the shutdown cut off (still queued or running), for the next run to start. */
  async failInterrupted(ids: string[], shutdownTimeoutMs: number): Promise<number> {
    return execute(
      this.db,
      `UPDATE job_runs
       SET status = 'failed', finished_at = now(),
           error = 'interrupted: the service shut down before the run finished (SHUTDOWN_TIMEOUT_MS = ' || $2 || ')'
       WHERE id = ANY($1::uuid[]) AND status IN ('queued', 'running')`,
      [ids, shutdownTimeoutMs],
    );
  }

  async markRunning(id: string): Promise<void> {
    await execute(this.db, `UPDATE job_runs SET status = 'running', started_at = now(), heartbeat_at = now() WHERE id = $1`, [id]);
  }

  async heartbeat(id: string): Promise<void> {
    await execute(this.db, `UPDATE job_runs SET heartbeat_at = now() WHERE id = $1 AND status = 'running'`, [id]);
  }

  /** Records the end of a run, through `db` when the caller writes more in the same transaction. */
  async finish(
    id: string,
    outcome: { status: 'succeeded' | 'failed'; counts: JobCounts; error: string | null; durationMs: number },
    db: Db = this.db,
  ): Promise<JobRun> {
    const row = await queryOne<JobRun>(
      db,
      `UPDATE job_runs
       SET status = $2, counts = $3, error = $4, duration_ms = $5, finished_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, outcome.status, JSON.stringify(outcome.counts), outcome.error, outcome.durationMs],
    );
    if (!row) throw new Error(`job run ${id} vanished before it finished`);
    return row;
  }

  async findById(jobName: string, id: string): Promise<JobRun | undefined> {
    return queryOne<JobRun>(this.db, `SELECT ${COLUMNS} FROM job_runs WHERE job_name = $1 AND id = $2`, [jobName, id]);
  }

  /** Newest first. */
  list(jobName: string, limit: number, before?: { createdAt: string; id: string }): Promise<JobRun[]> {
    return queryRows(
      this.db,
      `SELECT ${COLUMNS} FROM job_runs
       WHERE job_name = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [jobName, before?.createdAt ?? null, before?.id ?? null, limit],
    );
  }

  /** The latest run of each job. */
  async latestPerJob(): Promise<Map<string, JobRun>> {
    const rows = await queryRows<JobRun>(
      this.db,
      `SELECT DISTINCT ON (job_name) ${COLUMNS} FROM job_runs ORDER BY job_name, created_at DESC, id DESC`,
    );
    return new Map(rows.map((row) => [row.jobName, row]));
  }

  /** Deletes finished runs that ended before `cutoff`; keeps the latest run of every job. */
  async deleteFinishedBefore(cutoff: Date): Promise<number> {
    return execute(
      this.db,
      `DELETE FROM job_runs r
       WHERE r.status IN ('succeeded', 'failed') AND r.finished_at < $1
         AND r.id NOT IN (SELECT DISTINCT ON (job_name) id FROM job_runs ORDER BY job_name, created_at DESC, id DESC)`,
      [cutoff],
    );
  }
}
