import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The aggregation's write path keeps only what something reads:
 * - `session_completions` is dropped: nothing read it, it grew by a row per hand-on for ever, and
 *   the catch-up it was kept for is the session-metrics sweep, which finds completed sessions
 *   without current metrics in `sessions` itself;
 * - `sessions` loses its foreign key to `projects`: the per-row check cost as much as the rest of
 *   the insert (0.5 s per 100,000 sessions). Sessions are built only from events, which are stored
 *   only for existing projects (and `tracking_events` has no such key either); the cascade on a
 *   project's deletion (or truncation) is kept by statement-level triggers, one statement each.
 *   The aggregation locks its batch's projects (FOR KEY SHARE, once per project) as the key did.
 */
export class SessionsWritePath1764000720000 implements MigrationInterface {
  name = 'SessionsWritePath1764000720000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE session_completions`);
    await db.query(`ALTER TABLE sessions DROP CONSTRAINT sessions_project_id_fkey`);
    await db.query(`
      CREATE FUNCTION sessions_delete_of_deleted_projects() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM sessions s USING deleted_projects d WHERE s.project_id = d.id;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE TRIGGER projects_delete_sessions AFTER DELETE ON projects
      REFERENCING OLD TABLE AS deleted_projects
      FOR EACH STATEMENT EXECUTE FUNCTION sessions_delete_of_deleted_projects()`);
    await db.query(`
      CREATE FUNCTION sessions_truncate_with_projects() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        TRUNCATE sessions;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE TRIGGER projects_truncate_sessions AFTER TRUNCATE ON projects
      FOR EACH STATEMENT EXECUTE FUNCTION sessions_truncate_with_projects()`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TRIGGER projects_truncate_sessions ON projects`);
    await db.query(`DROP FUNCTION sessions_truncate_with_projects()`);
    await db.query(`DROP TRIGGER projects_delete_sessions ON projects`);
    await db.query(`DROP FUNCTION sessions_delete_of_deleted_projects()`);
    await db.query(`DELETE FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = s.project_id)`);
    await db.query(
      `ALTER TABLE sessions ADD CONSTRAINT sessions_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE`,
    );
    await db.query(`
      CREATE TABLE session_completions (
        project_id    uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id            bigserial,
        session_id    text        NOT NULL,
        completed_at  timestamptz NOT NULL,
        recorded_at   timestamptz NOT NULL,
        PRIMARY KEY (project_id, id)
      )`);
    await db.query(`CREATE INDEX session_completions_session_idx ON session_completions (project_id, session_id)`);
  }
}
