import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `metrics_drilldown` loses its `time_bucket` index, kept only for the daily retention delete.
 * Every drilldown row written pays for each index: a full rebuild inserts a row per session and
 * KPI event of the last 30 days (354,000 in the benchmark), and this index cost 0.95 s of the 5.1 s
 * that insert took. The retention delete reads the table once a day instead (a sequential scan of
 * 30 days of rows, tens of milliseconds at that size); the incremental compute's deletes by day go
 * through the paging index, which leads with the project, metric and entity type they name.
 */
export class DrilldownWithoutRetentionIndex1764000740000 implements MigrationInterface {
  name = 'DrilldownWithoutRetentionIndex1764000740000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX metrics_drilldown_retention_idx`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX metrics_drilldown_retention_idx ON metrics_drilldown (time_bucket)`);
  }
}
