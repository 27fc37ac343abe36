import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The values each day bucket's percentiles are taken of (session durations, times to first draft),
 * sorted, one row per project, quantity and day bucket. A percentile of a week or a month is not
 * made of its days' percentiles but of their values: an incremental run takes it from these rows
 * (and the additive figures from the day points) instead of reading every session of the month
 * again. They are kept as long as the day points; `days_complete_from` records from which instant
 * on both are still complete (the retention cutoff last applied; null: everything since the last
 * full rebuild), and a week or month starting before it is computed from its rows.
 */
export class MetricsDayValues1764000780000 implements MigrationInterface {
  name = 'MetricsDayValues1764000780000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE metrics_day_values (
        project_id    uuid        NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        quantity      text        NOT NULL,
        time_bucket   timestamptz NOT NULL,
        sorted_values float8[]    NOT NULL CHECK (cardinality(sorted_values) > 0),
        computed_at   timestamptz NOT NULL,
        PRIMARY KEY (project_id, quantity, time_bucket)
      )`);
    await db.query(`ALTER TABLE metrics_compute_state ADD COLUMN days_complete_from timestamptz`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE metrics_compute_state DROP COLUMN days_complete_from`);
    await db.query(`DROP TABLE metrics_day_values`);
  }
}
