import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `metrics_source_state` holds one row per source row (sessions, KPI events), written by every
 * metrics compute — 1.1 million rows in a full rebuild of the benchmark — and its foreign key to
 * `projects` cost a trigger call per inserted row (about half the time of that insert). The key
 * only served to delete a project's state with the project; the compute does that itself: the
 * state rows of a deleted project have no source rows any more, so the next run finds them gone
 * and deletes them (their buckets belong to no project and are skipped).
 */
export class MetricsSourceStateWithoutFk1764000510000 implements MigrationInterface {
  name = 'MetricsSourceStateWithoutFk1764000510000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE metrics_source_state DROP CONSTRAINT metrics_source_state_project_id_fkey`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DELETE FROM metrics_source_state st WHERE NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = st.project_id)`);
    await db.query(
      `ALTER TABLE metrics_source_state ADD CONSTRAINT metrics_source_state_project_id_fkey
         FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE`,
    );
  }
}
