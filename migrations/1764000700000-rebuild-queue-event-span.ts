import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A queued session carries the time span of the events that queued it. The rebuild reads the
 * session's events within that span widened by its stored started_at..ended_at, so PostgreSQL
 * prunes the monthly partitions that cannot hold them instead of probing every partition's index
 * once per session. Rows queued before this migration get an unbounded span: always correct.
 */
export class RebuildQueueEventSpan1764000700000 implements MigrationInterface {
  name = 'RebuildQueueEventSpan1764000700000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE session_rebuild_queue
        ADD COLUMN events_from timestamptz NOT NULL DEFAULT '-infinity',
        ADD COLUMN events_to   timestamptz NOT NULL DEFAULT 'infinity'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE session_rebuild_queue DROP COLUMN events_from, DROP COLUMN events_to`);
  }
}
