import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A full aggregation pass (the first run, or `{ "full": true }`) goes through every session in key
 * order, one committed batch after another. Cut off (a crash, a deploy), it started again from the
 * first session: on a large history, minutes of batches done twice. The pass now records its
 * snapshot (the watermark it will store at its end) when it starts, and the last key of each
 * batch in the batch's own transaction; the next run resumes it after that key.
 */
export class ResumableFullPass1764000750000 implements MigrationInterface {
  name = 'ResumableFullPass1764000750000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE session_aggregation_state
        ADD COLUMN full_pass_snapshot pg_snapshot,
        ADD COLUMN full_pass_after_project uuid,
        ADD COLUMN full_pass_after_session text`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE session_aggregation_state
        DROP COLUMN full_pass_snapshot, DROP COLUMN full_pass_after_project, DROP COLUMN full_pass_after_session`);
  }
}
