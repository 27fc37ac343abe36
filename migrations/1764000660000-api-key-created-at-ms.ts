import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * List cursors carry a row's time as JavaScript writes it, to the millisecond. `api_keys.created_at`
 * kept PostgreSQL's microseconds, so the cursor after a page's last key was a little earlier than
 * that key, and the next page began with it again. Keys now get millisecond times, as projects and
 * job runs already do.
 */
export class ApiKeyCreatedAtMs1764000660000 implements MigrationInterface {
  name = 'ApiKeyCreatedAtMs1764000660000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE api_keys ALTER COLUMN created_at SET DEFAULT date_trunc('milliseconds', now())`);
    await db.query(
      `UPDATE api_keys SET created_at = date_trunc('milliseconds', created_at) WHERE created_at <> date_trunc('milliseconds', created_at)`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE api_keys ALTER COLUMN created_at SET DEFAULT now()`);
  }
}
