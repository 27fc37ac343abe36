import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A run started by another job's success (metrics-compute after session-aggregation) was recorded
 * as `manual`, as if someone had asked for it. It now has its own trigger, `chained`; its
 * `params.after` names the job it follows.
 */
export class ChainedJobRuns1764000760000 implements MigrationInterface {
  name = 'ChainedJobRuns1764000760000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE job_runs DROP CONSTRAINT job_runs_trigger_check`);
    await db.query(`ALTER TABLE job_runs ADD CONSTRAINT job_runs_trigger_check CHECK (trigger IN ('schedule', 'manual', 'chained'))`);
    await db.query(`UPDATE job_runs SET trigger = 'chained' WHERE trigger = 'manual' AND params ? 'after'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`UPDATE job_runs SET trigger = 'manual' WHERE trigger = 'chained'`);
    await db.query(`ALTER TABLE job_runs DROP CONSTRAINT job_runs_trigger_check`);
    await db.query(`ALTER TABLE job_runs ADD CONSTRAINT job_runs_trigger_check CHECK (trigger IN ('schedule', 'manual'))`);
  }
}
