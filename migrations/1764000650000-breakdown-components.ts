import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The breakdown API combines a range of day buckets per dimension value by summing each row's
 * additive components. Reading them out of `value_json` meant parsing JSON for every row; these
 * columns hold the same components as plain numbers, derived by PostgreSQL from `value_json` on
 * every insert and update (stored generated columns), so they can never disagree with it and the
 * writer does not change:
 *   value_numerator    a rate's numerator, a mean's sum, a count's count (null for a percentile),
 *   value_denominator  a rate's denominator, a mean's or a count's or a percentile's count:
 *                      the count a value rests on (the API's sampleSize).
 * `numeric`, as the `::numeric` reads of value_json before, so sums stay exact.
 *
 * The upsert key gets the components as INCLUDE columns: its order (project, metric, dimension,
 * grain, bucket, value) is the breakdown read's range, so that read becomes one index range scan
 * that needs no table rows once they are all-visible. No extra index to maintain.
 */
export class BreakdownComponents1764000650000 implements MigrationInterface {
  name = 'BreakdownComponents1764000650000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE metrics_breakdown_point
        ADD COLUMN value_numerator numeric GENERATED ALWAYS AS (
          (coalesce(value_json->>'numerator', value_json->>'sum', CASE WHEN NOT value_json ? 'value' THEN value_json->>'count' END))::numeric
        ) STORED,
        ADD COLUMN value_denominator numeric GENERATED ALWAYS AS (
          (coalesce(value_json->>'denominator', value_json->>'count'))::numeric
        ) STORED`);
    await db.query(`
      ALTER TABLE metrics_breakdown_point
        DROP CONSTRAINT metrics_breakdown_point_key,
        ADD CONSTRAINT metrics_breakdown_point_key UNIQUE NULLS NOT DISTINCT
          (project_id, metric_key, dimension_key, time_grain, time_bucket, dimension_value) INCLUDE (value_numerator, value_denominator)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE metrics_breakdown_point
        DROP CONSTRAINT metrics_breakdown_point_key,
        ADD CONSTRAINT metrics_breakdown_point_key UNIQUE NULLS NOT DISTINCT
          (project_id, metric_key, dimension_key, time_grain, time_bucket, dimension_value)`);
    await db.query(`ALTER TABLE metrics_breakdown_point DROP COLUMN value_numerator, DROP COLUMN value_denominator`);
  }
}
