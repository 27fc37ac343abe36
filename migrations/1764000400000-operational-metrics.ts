import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Operational metrics: raw samples (kept 30 days), their daily rollup (kept forever), the rollup's
 * watermark, and the reserved system project that holds the service's own metrics.
 */
export class OperationalMetrics1764000400000 implements MigrationInterface {
  name = 'OperationalMetrics1764000400000';

  async up(db: QueryRunner): Promise<void> {
    // The service's own metrics belong to the nil-UUID project. A real row keeps the foreign keys
    // honest; `GET /v1/projects` skips it and ProjectsService.get refuses it, so only the admin
    // routes under /v1/operational-metrics can read it.
    await db.query(`
      INSERT INTO projects (id, name, created_at)
      VALUES ('00000000-0000-0000-0000-000000000000', 'Trailmark (system)', '1970-01-01T00:00:00Z')
      ON CONFLICT (id) DO NOTHING`);

    // Not partitioned: retention removes one day (1/30 of the table) per run with an indexed
    // DELETE; see docs/operational-metrics.md for the trade-off. `received_at` is the database's
    // transaction time of the insert (never the client's): the rollup's late-data watermark.
    await db.query(`
      CREATE TABLE operational_metrics (
        project_id   uuid             NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id           bigint           GENERATED ALWAYS AS IDENTITY,
        metric_type  text             NOT NULL CHECK (metric_type IN ('queue_depth', 'processing_time', 'error', 'token_usage', 'confidence')),
        value        double precision NOT NULL,
        labels       jsonb            NOT NULL DEFAULT '{}'::jsonb,
        labels_key   text             NOT NULL DEFAULT '',
        recorded_at  timestamptz      NOT NULL,
        received_at  timestamptz      NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, id)
      )`);
    await db.query(`CREATE INDEX operational_metrics_type_time_idx ON operational_metrics (project_id, metric_type, recorded_at DESC, id DESC)`);
    await db.query(`CREATE INDEX operational_metrics_project_time_idx ON operational_metrics (project_id, recorded_at DESC, id DESC)`);
    // Retention and the rollup's catch-up select by recorded_at across projects; late data by received_at.
    await db.query(`CREATE INDEX operational_metrics_recorded_at_idx ON operational_metrics (recorded_at)`);
    await db.query(`CREATE INDEX operational_metrics_received_at_idx ON operational_metrics (received_at)`);

    await db.query(`
      CREATE TABLE operational_metrics_daily (
        project_id    uuid             NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        metric_type   text             NOT NULL,
        day           date             NOT NULL,
        labels_key    text             NOT NULL,
        labels        jsonb            NOT NULL,
        sample_count  bigint           NOT NULL,
        sum           double precision NOT NULL,
        min           double precision NOT NULL,
        max           double precision NOT NULL,
        avg           double precision NOT NULL,
        p95           double precision NOT NULL,
        computed_at   timestamptz      NOT NULL,
        PRIMARY KEY (project_id, metric_type, day, labels_key)
      )`);
    await db.query(`CREATE INDEX operational_metrics_daily_day_idx ON operational_metrics_daily (project_id, day)`);

    // One row: every raw row received before `received_watermark` of a day before `rolled_through`
    // is in the daily table. Not tenant data (it spans all projects).
    await db.query(`
      CREATE TABLE operational_metrics_rollup_state (
        singleton           boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
        received_watermark  timestamptz NOT NULL,
        rolled_through      date        NOT NULL,
        updated_at          timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      INSERT INTO operational_metrics_rollup_state (received_watermark, rolled_through)
      VALUES ('-infinity', '-infinity')`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE operational_metrics_rollup_state`);
    await db.query(`DROP TABLE operational_metrics_daily`);
    await db.query(`DROP TABLE operational_metrics`);
    await db.query(`DELETE FROM projects WHERE id = '00000000-0000-0000-0000-000000000000'`);
  }
}
