import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A full aggregation pass is split into contiguous key ranges ("parts") that its workers rebuild
 * side by side, each part with its own cursor, so that a pass cut off resumes every part after
 * the last batch of it that committed. The single cursor of the state row becomes part 0 of an
 * unfinished pass.
 */
export class FullPassParts1764000770000 implements MigrationInterface {
  name = 'FullPassParts1764000770000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE session_aggregation_pass_part (
        part integer PRIMARY KEY CHECK (part >= 0),
        -- the part's sessions are those after this key (its cursor, moved by each batch) ...
        after_project uuid NOT NULL,
        after_session text NOT NULL,
        -- ... up to and including this one; null: up to the last session
        until_project uuid,
        until_session text,
        finished boolean NOT NULL DEFAULT false,
        CHECK ((until_project IS NULL) = (until_session IS NULL))
      )`);
    await db.query(`
      INSERT INTO session_aggregation_pass_part (part, after_project, after_session)
      SELECT 0, full_pass_after_project, full_pass_after_session FROM session_aggregation_state
      WHERE full_pass_snapshot IS NOT NULL AND full_pass_after_project IS NOT NULL`);
    await db.query(`ALTER TABLE session_aggregation_state DROP COLUMN full_pass_after_project, DROP COLUMN full_pass_after_session`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE session_aggregation_state ADD COLUMN full_pass_after_project uuid, ADD COLUMN full_pass_after_session text`);
    // One cursor for the whole pass: the first unfinished part's. The later parts' sessions it
    // passes over again are rebuilt twice, which changes nothing.
    await db.query(`
      UPDATE session_aggregation_state s SET full_pass_after_project = p.after_project, full_pass_after_session = p.after_session
      FROM (SELECT after_project, after_session FROM session_aggregation_pass_part WHERE NOT finished ORDER BY part LIMIT 1) p
      WHERE s.full_pass_snapshot IS NOT NULL`);
    await db.query(`UPDATE session_aggregation_state SET full_pass_snapshot = NULL WHERE full_pass_after_project IS NULL`);
    await db.query(`DROP TABLE session_aggregation_pass_part`);
  }
}
