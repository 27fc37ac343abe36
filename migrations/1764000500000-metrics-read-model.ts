import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The metrics read model (seed metrics-read-model §4): summary snapshots, trend points,
 * breakdown points and drilldown rows, filled by the `metrics-compute` job. Each table has the
 * seed's columns and indexes, plus the unique key its upserts are deterministic on (every key
 * leads with project_id). `metrics_source_state` remembers, per source row, the instant it was
 * last counted at and a fingerprint of what was counted, so the incremental compute finds exactly
 * the buckets whose sources changed — including the OLD bucket of a session whose start moved.
 */
export class MetricsReadModel1764000500000 implements MigrationInterface {
  name = 'MetricsReadModel1764000500000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TYPE metrics_time_grain AS ENUM ('hour', 'day', 'week', 'month')`);

    await db.query(`
      CREATE TABLE metrics_summary (
        id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        project_id   uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        captured_at  timestamptz NOT NULL,
        version      text        NOT NULL DEFAULT '1.0',
        scope        jsonb,
        payload      jsonb       NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX metrics_summary_project_captured_idx ON metrics_summary (project_id, captured_at DESC)`);

    await db.query(`
      CREATE TABLE metrics_trend_point (
        id             uuid               PRIMARY KEY DEFAULT gen_random_uuid(),
        project_id     uuid               NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        metric_key     text               NOT NULL,
        time_grain     metrics_time_grain NOT NULL,
        time_bucket    timestamptz        NOT NULL,
        dimensions     jsonb              NOT NULL DEFAULT '{}'::jsonb,
        value_numeric  double precision,
        value_json     jsonb              NOT NULL,
        computed_at    timestamptz        NOT NULL,
        CONSTRAINT metrics_trend_point_key UNIQUE (project_id, metric_key, time_grain, time_bucket, dimensions)
      )`);
    await db.query(`CREATE INDEX metrics_trend_point_series_idx ON metrics_trend_point (project_id, metric_key, time_grain, time_bucket DESC)`);
    await db.query(`CREATE INDEX metrics_trend_point_dimensions_idx ON metrics_trend_point USING gin (dimensions)`);
    // Retention deletes by grain and age across projects.
    await db.query(`CREATE INDEX metrics_trend_point_retention_idx ON metrics_trend_point (time_grain, time_bucket)`);

    await db.query(`
      CREATE TABLE metrics_breakdown_point (
        id               uuid               PRIMARY KEY DEFAULT gen_random_uuid(),
        project_id       uuid               NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        metric_key       text               NOT NULL,
        time_grain       metrics_time_grain,
        time_bucket      timestamptz,
        dimension_key    text               NOT NULL,
        dimension_value  text,
        value_numeric    double precision,
        value_json       jsonb              NOT NULL,
        computed_at      timestamptz        NOT NULL,
        CONSTRAINT metrics_breakdown_point_key UNIQUE NULLS NOT DISTINCT
          (project_id, metric_key, dimension_key, time_grain, time_bucket, dimension_value)
      )`);
    await db.query(
      `CREATE INDEX metrics_breakdown_point_series_idx ON metrics_breakdown_point (project_id, metric_key, time_grain, time_bucket DESC)`,
    );
    await db.query(`CREATE INDEX metrics_breakdown_point_dimension_idx ON metrics_breakdown_point (project_id, dimension_key, dimension_value)`);
    await db.query(`CREATE INDEX metrics_breakdown_point_retention_idx ON metrics_breakdown_point (time_bucket)`);

    await db.query(`
      CREATE TABLE metrics_drilldown (
        id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        project_id    uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        metric_key    text        NOT NULL,
        entity_type   text        NOT NULL,
        entity_id     uuid,
        reference_id  text,
        time_bucket   timestamptz,
        payload       jsonb       NOT NULL,
        computed_at   timestamptz NOT NULL,
        CONSTRAINT metrics_drilldown_key UNIQUE NULLS NOT DISTINCT (project_id, metric_key, entity_type, entity_id, reference_id),
        CONSTRAINT metrics_drilldown_entity_named CHECK (entity_id IS NOT NULL OR reference_id IS NOT NULL)
      )`);
    await db.query(`CREATE INDEX metrics_drilldown_entity_idx ON metrics_drilldown (project_id, metric_key, entity_type, entity_id)`);
    await db.query(`CREATE INDEX metrics_drilldown_reference_idx ON metrics_drilldown (project_id, metric_key, reference_id)`);
    // The drilldown API pages a day range newest first; retention deletes by bucket.
    await db.query(`CREATE INDEX metrics_drilldown_page_idx ON metrics_drilldown (project_id, metric_key, entity_type, time_bucket DESC, id DESC)`);
    await db.query(`CREATE INDEX metrics_drilldown_retention_idx ON metrics_drilldown (time_bucket)`);

    await db.query(`
      CREATE TABLE metrics_source_state (
        project_id   uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        source       text        NOT NULL CHECK (source IN ('session', 'kpi_event')),
        entity_key   text        NOT NULL,
        counted_at   timestamptz NOT NULL,
        fingerprint  text        NOT NULL,
        PRIMARY KEY (project_id, source, entity_key)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE metrics_source_state`);
    await db.query(`DROP TABLE metrics_drilldown`);
    await db.query(`DROP TABLE metrics_breakdown_point`);
    await db.query(`DROP TABLE metrics_trend_point`);
    await db.query(`DROP TABLE metrics_summary`);
    await db.query(`DROP TYPE metrics_time_grain`);
  }
}
