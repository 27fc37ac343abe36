/** Every query of operational metrics: raw inserts and reads, the daily rollup, retention. */
import { Injectable } from '@nestjs/common';
import { exactSumSql } from '../common/database/measures.js';
import { execute, queryOne, queryRows, type Db } from '../common/database/sql.js';
import type { Labels } from './labels.js';
import type { MetricType } from './metric-types.js';

/** A day's sum and average of its values: exact numeric ones (see exactSumSql), stored as float8. */
export const ROLLUP_SUM_SQL = `${exactSumSql('value')}::float8`;
export const ROLLUP_AVG_SQL = `(${exactSumSql('value')} / count(*))::float8`;

export interface RawMetricInput {
  type: MetricType;
  value: number;
  labels: Labels;
  labelsKey: string;
  recordedAt: Date;
}

export interface RawMetric extends RawMetricInput {
  id: string;
  receivedAt: Date;
}

export interface DailyMetric {
  day: string;
  type: MetricType;
  labelsKey: string;
  labels: Labels;
  count: number;
  sum: number;
  min: number;
  max: number;
  avg: number;
  p95: number;
}

export interface MetricFilter {
  type?: MetricType;
  from?: Date;
  to?: Date;
  labelsKey?: string;
}

export interface RollupState {
  receivedWatermark: Date;
  /** Every day before this one was complete at the last run; ISO date or '-infinity'. */
  rolledThrough: string;
}

/** A raw row's UTC day, as the rollup groups and retention spares. */
const RAW_DAY = `(recorded_at AT TIME ZONE 'UTC')::date`;

@Injectable()
export class OperationalMetricsRepository {
  /** One statement for any number of samples of one project, through the caller's `db`. */
  async insert(db: Db, projectId: string, rows: RawMetricInput[]): Promise<number> {
    if (rows.length === 0) return 0;
    return execute(
      db,
      `INSERT INTO operational_metrics (project_id, metric_type, value, labels, labels_key, recorded_at)
       SELECT $1, t.metric_type, t.value, t.labels::jsonb, t.labels_key, t.recorded_at
       FROM unnest($2::text[], $3::float8[], $4::text[], $5::text[], $6::timestamptz[])
         AS t (metric_type, value, labels, labels_key, recorded_at)`,
      [
        projectId,
        rows.map((r) => r.type),
        rows.map((r) => r.value),
        rows.map((r) => JSON.stringify(r.labels)),
        rows.map((r) => r.labelsKey),
        rows.map((r) => r.recordedAt.toISOString()),
      ],
    );
  }

  /** Raw rows, newest first; `before` is the (recordedAt, id) of the previous page's last row. */
  list(db: Db, projectId: string, filter: MetricFilter, limit: number, before?: { recordedAt: string; id: string }): Promise<RawMetric[]> {
    return queryRows(
      db,
      `SELECT id::text, metric_type AS type, value, labels, labels_key AS "labelsKey",
              recorded_at AS "recordedAt", received_at AS "receivedAt"
       FROM operational_metrics
       WHERE project_id = $1
         AND ($2::text IS NULL OR metric_type = $2)
         AND ($3::timestamptz IS NULL OR recorded_at >= $3)
         AND ($4::timestamptz IS NULL OR recorded_at < $4)
         AND ($5::text IS NULL OR labels_key = $5)
         AND ($6::timestamptz IS NULL OR (recorded_at, id) < ($6::timestamptz, $7::bigint))
       ORDER BY recorded_at DESC, operational_metrics.id DESC
       LIMIT $8`,
      [
        projectId,
        filter.type ?? null,
        filter.from ?? null,
        filter.to ?? null,
        filter.labelsKey ?? null,
        before?.recordedAt ?? null,
        before?.id ?? null,
        limit,
      ],
    );
  }

  /** Daily rows whose day starts in [from, to), days ascending. */
  listDaily(db: Db, projectId: string, filter: MetricFilter): Promise<DailyMetric[]> {
    return queryRows(
      db,
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, metric_type AS type, labels_key AS "labelsKey", labels,
              sample_count::float8 AS count, sum, min, max, avg, p95
       FROM operational_metrics_daily
       WHERE project_id = $1
         AND ($2::text IS NULL OR metric_type = $2)
         AND ($3::timestamptz IS NULL OR day::timestamp AT TIME ZONE 'UTC' >= $3::timestamptz)
         AND ($4::timestamptz IS NULL OR day::timestamp AT TIME ZONE 'UTC' < $4::timestamptz)
         AND ($5::text IS NULL OR labels_key = $5)
       ORDER BY day, metric_type, labels_key`,
      [projectId, filter.type ?? null, filter.from ?? null, filter.to ?? null, filter.labelsKey ?? null],
    );
  }

  async rollupState(db: Db): Promise<RollupState> {
    const state = await queryOne<RollupState>(
      db,
      `SELECT received_watermark AS "receivedWatermark", rolled_through::text AS "rolledThrough"
       FROM operational_metrics_rollup_state`,
    );
    if (!state) throw new Error('operational_metrics_rollup_state has no row; was the migration applied?');
    return state;
  }

  /**
   * The instant before which every raw row's transaction has ended: now, or the start of the
   * oldest transaction still open on this database (its rows, once committed, carry a received_at
   * no earlier than that). Rows received before it are all visible to statements that follow.
   */
  async safeReceivedCutoff(db: Db): Promise<Date> {
    const row = await queryOne<{ cutoff: Date }>(
      db,
      `SELECT least(statement_timestamp(), (
                SELECT min(xact_start) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
              )) AS cutoff`,
    );
    return row!.cutoff;
  }

  /**
   * Complete UTC days (before `today`) that need rolling up: days with rows received since the last
   * run's watermark (late data) and days that were not complete at the last run (catch-up).
   */
  async daysToRoll(db: Db, today: string, state: RollupState): Promise<string[]> {
    // Two index-friendly parts instead of one scan of every raw row: catch-up days are probed one
    // by one through the recorded_at index; late days come from the received_at index, and only
    // after a first run (before it, every day is a catch-up day).
    const rows = await queryRows<{ day: string }>(
      db,
      `WITH first AS (
         SELECT CASE WHEN min(recorded_at) IS NULL THEN NULL
                     ELSE greatest($3::date, (min(recorded_at) AT TIME ZONE 'UTC')::date) END AS day
         FROM operational_metrics
       ),
       catch_up AS (
         SELECT d::date AS day
         FROM first, generate_series(first.day::timestamp, ($1::date - 1)::timestamp, interval '1 day') AS d
         WHERE first.day IS NOT NULL
           AND EXISTS (SELECT 1 FROM operational_metrics
                       WHERE recorded_at >= d AT TIME ZONE 'UTC' AND recorded_at < (d + interval '1 day') AT TIME ZONE 'UTC')
       ),
       late AS (
         SELECT DISTINCT ${RAW_DAY} AS day
         FROM operational_metrics
         WHERE $2::timestamptz > '-infinity' AND received_at >= $2
           AND recorded_at < ($1::date)::timestamp AT TIME ZONE 'UTC'
       )
       SELECT to_char(day, 'YYYY-MM-DD') AS day FROM (SELECT day FROM catch_up UNION SELECT day FROM late) days
       ORDER BY day`,
      [today, state.receivedWatermark, state.rolledThrough],
    );
    return rows.map((r) => r.day);
  }

  /**
   * Rolls up the given days in one set-based upsert. `p95` is percentile_cont(0.95): linear
   * interpolation between the closest ranks. Sums and averages are exact numeric ones (see
   * exactSumSql: a plain ::numeric cast keeps 15 digits, so a one-row day of 1/3 averaged
   * 0.333333333333333, below its own min), so they do not depend on row order and a rerun gives the
   * same figures; rows whose figures did not change are not touched (their computed_at stays).
   * Returns the rows inserted or changed.
   */
  rollupDays(db: Db, days: string[], computedAt: Date): Promise<number> {
    return execute(
      db,
      `INSERT INTO operational_metrics_daily AS d
         (project_id, metric_type, day, labels_key, labels, sample_count, sum, min, max, avg, p95, computed_at)
       SELECT project_id, metric_type, ${RAW_DAY} AS day, labels_key, labels,
              count(*), ${ROLLUP_SUM_SQL}, min(value), max(value), ${ROLLUP_AVG_SQL},
              percentile_cont(0.95) WITHIN GROUP (ORDER BY value),
              $4
       FROM operational_metrics
       WHERE recorded_at >= ($2::date)::timestamp AT TIME ZONE 'UTC'
         AND recorded_at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'
         AND ${RAW_DAY} = ANY ($1::date[])
       GROUP BY project_id, metric_type, ${RAW_DAY}, labels_key, labels
       ON CONFLICT (project_id, metric_type, day, labels_key) DO UPDATE
         SET labels = excluded.labels, sample_count = excluded.sample_count, sum = excluded.sum,
             min = excluded.min, max = excluded.max, avg = excluded.avg, p95 = excluded.p95,
             computed_at = excluded.computed_at
         WHERE (d.labels, d.sample_count, d.sum, d.min, d.max, d.avg, d.p95)
               IS DISTINCT FROM (excluded.labels, excluded.sample_count, excluded.sum, excluded.min, excluded.max, excluded.avg, excluded.p95)`,
      [days, days[0], days[days.length - 1], computedAt],
    );
  }

  async saveRollupState(db: Db, state: RollupState): Promise<void> {
    await execute(
      db,
      `UPDATE operational_metrics_rollup_state
       SET received_watermark = $1, rolled_through = $2::date, updated_at = now()`,
      [state.receivedWatermark, state.rolledThrough],
    );
  }

  /**
   * Deletes raw rows recorded before `cutoff`, sparing every day not rolled up yet: days from
   * `rolledThrough` on, and days with a row received at or after the watermark.
   */
  deleteRawBefore(db: Db, cutoff: Date, state: RollupState): Promise<number> {
    return execute(
      db,
      `DELETE FROM operational_metrics
       WHERE recorded_at < $1
         AND recorded_at < ($3::date)::timestamp AT TIME ZONE 'UTC'
         AND ${RAW_DAY} NOT IN (
           SELECT DISTINCT ${RAW_DAY} FROM operational_metrics WHERE received_at >= $2 AND recorded_at < $1
         )`,
      [cutoff, state.receivedWatermark, state.rolledThrough],
    );
  }
}
