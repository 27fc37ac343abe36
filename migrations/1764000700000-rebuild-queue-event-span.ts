import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A queued session carries the time of the earliest event that queued it. The rebuild reads the
 * session's events from the earlier of that and its stored started_at on, so PostgreSQL prunes the
 * older monthly partitions instead of probing every partition's index once per session. Rows
 * queued before this migration get -infinity: read unbounded, as before.
 */
export class RebuildQueueEventSpan1764000700000 implements MigrationInterface {
  name = 'RebuildQueueEventSpan1764000700000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE session_rebuild_queue ADD COLUMN events_from timestamptz NOT NULL DEFAULT '-infinity'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE session_rebuild_queue DROP COLUMN events_from`);
  }
}
