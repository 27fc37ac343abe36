import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import {
  combinedMeasureValueSql,
  combinedSampleSizeSql,
  measureComponentsJsonSql,
  measureValueSql,
  type Measure,
  type MeasureKind,
} from '../common/database/measures.js';
import { execute, queryOne, queryRows, type Db } from '../common/database/sql.js';
import { SESSION_METRICS_COMPONENTS, SESSION_METRICS_FROM, SESSION_METRICS_STATS_SQL } from '../session-metrics/session-metrics.repository.js';
import { SESSION_STATS_COMPONENTS, SESSION_STATS_SQL } from '../sessions/session-stats.sql.js';
import { KPI_METRIC_KEYS, metricsOfSource, TIME_GRAINS, type MetricDefinition, type TimeGrain } from './metric-catalogue.constants.js';

/** Metric keys and dimension names are code constants; checked before they are written into SQL text. */
function literal(text: string): string {
  if (!/^[a-z0-9_.]+$/.test(text)) throw new Error(`not a SQL-safe constant: ${text}`);
  return `'${text}'`;
}

/** The (metric_key, value, value_json) rows of a source's metrics from one row of its components. */
function unpivot(metrics: MetricDefinition[]): string {
  return metrics.map((m) => `(${literal(m.key)}, ${measureValueSql(m.measure)}, ${measureComponentsJsonSql(m.measure)})`).join(',\n      ');
}

const SESSION_METRICS = metricsOfSource('sessions');
const QUALITY_METRICS = metricsOfSource('session_metrics');
const KPI_MEASURE: Measure = { kind: 'count', count: 'events' };

/**
 * The sources changed since the last compute, found by comparing each source row with what was
 * counted last time (`metrics_source_state`): new rows, changed rows (their old AND new instants),
 * and rows gone. The fingerprint covers every column a metric, breakdown or drilldown reads, so a
 * change of any of them — whatever clock stamped it — is seen; no timestamp watermark to race with.
 * $1: the KPI ids of the catalogue.
 */
const FIND_CHANGES_SQL = `
INSERT INTO metrics_changed (project_id, source, entity_key, new_at, new_fingerprint, old_at)
WITH cur AS (
  SELECT s.project_id, 'session'::text AS source, s.session_id AS entity_key, s.started_at AS at,
         md5(row(s.status, s.started_at, s.duration_seconds, s.page_count, s.bounced, s.converted, s.entry_page, s.exit_page,
                 m.session_id IS NOT NULL, m.time_to_first_draft_ms, m.completion_rate, m.confirmation_rate, m.signal_density,
                 m.dropped_off, m.drop_off_step)::text) AS fingerprint
  FROM sessions s
  LEFT JOIN session_metrics m ON m.project_id = s.project_id AND m.session_id = s.session_id
  UNION ALL
  SELECT k.project_id, 'kpi_event', k.id::text, k.occurred_at,
         md5(row(k.kpi_id, k.user_id, k.occurred_at, k.metadata)::text)
  FROM kpi_events k
  WHERE k.kpi_id = ANY($1::text[])
)
SELECT coalesce(c.project_id, p.project_id), coalesce(c.source, p.source), coalesce(c.entity_key, p.entity_key),
       c.at, c.fingerprint, p.counted_at
FROM cur c
FULL JOIN metrics_source_state p ON p.project_id = c.project_id AND p.source = c.source AND p.entity_key = c.entity_key
WHERE c.fingerprint IS DISTINCT FROM p.fingerprint`;

/**
 * Every bucket (each grain) holding an old or new instant of a changed source row, as instants
 * [bucket, bucket_end) in the project's timezone. Instants are first reduced to quarter hours (every
 * IANA offset is a multiple of 15 minutes, so all instants of a quarter share their buckets). A
 * bucket is the local `date_trunc(grain, …)` range holding the instant; where DST makes the local
 * start ambiguous and it resolves after the instant, the bucket is the one before.
 */
const FIND_AFFECTED_SQL = `
INSERT INTO metrics_affected (project_id, source, grain, bucket, bucket_end)
WITH instants AS (
  SELECT project_id, source, new_at AS at FROM metrics_changed WHERE new_at IS NOT NULL
  UNION ALL
  SELECT project_id, source, old_at FROM metrics_changed WHERE old_at IS NOT NULL
),
quarters AS (
  SELECT DISTINCT i.project_id, i.source, p.timezone AS tz, date_bin('15 minutes', i.at, timestamptz '2000-01-01T00:00:00Z') AS q
  FROM instants i JOIN projects p ON p.id = i.project_id
),
local_starts AS (
  SELECT DISTINCT q.project_id, q.source, q.tz, g.grain,
         CASE WHEN date_trunc(g.grain, q.q AT TIME ZONE q.tz) AT TIME ZONE q.tz > q.q
              THEN date_trunc(g.grain, q.q AT TIME ZONE q.tz) - ('1 ' || g.grain)::interval
              ELSE date_trunc(g.grain, q.q AT TIME ZONE q.tz) END AS local_start
  FROM quarters q CROSS JOIN unnest($1::text[]) AS g(grain)
)
SELECT project_id, source, grain::metrics_time_grain, local_start AT TIME ZONE tz,
       (local_start + ('1 ' || grain)::interval) AT TIME ZONE tz
FROM local_starts`;

/**
 * Each recompute reads, per affected bucket `a`, the bucket's source rows through a LATERAL
 * subquery: an index range scan of [bucket, bucket_end) per bucket (a plain range join lets the
 * planner compare every row with every bucket). Buckets without rows give no row.
 * Trend: (project_id, metric_key, grain, bucket, value, value_json).
 */
const SESSION_TREND_FRESH = `
  SELECT a.project_id, v.metric_key, a.grain, a.bucket, v.value, v.value_json
  FROM aff a
  CROSS JOIN LATERAL (
    SELECT ${SESSION_STATS_COMPONENTS}
    FROM sessions s WHERE s.project_id = a.project_id AND s.started_at >= a.bucket AND s.started_at < a.bucket_end
  ) c
  CROSS JOIN LATERAL (VALUES
      ${unpivot(SESSION_METRICS)}
  ) AS v(metric_key, value, value_json)
  WHERE c.sessions > 0`;

const QUALITY_TREND_FRESH = `
  SELECT a.project_id, v.metric_key, a.grain, a.bucket, v.value, v.value_json
  FROM aff a
  CROSS JOIN LATERAL (
    SELECT ${SESSION_METRICS_COMPONENTS}
    FROM ${SESSION_METRICS_FROM}
    WHERE s.project_id = a.project_id AND s.started_at >= a.bucket AND s.started_at < a.bucket_end
  ) c
  CROSS JOIN LATERAL (VALUES
      ${unpivot(QUALITY_METRICS)}
  ) AS v(metric_key, value, value_json)
  WHERE c.sessions > 0`;

const KPI_TREND_FRESH = `
  SELECT a.project_id, c.kpi_id AS metric_key, a.grain, a.bucket,
         ${measureValueSql(KPI_MEASURE)}::float8 AS value, ${measureComponentsJsonSql(KPI_MEASURE)} AS value_json
  FROM aff a
  CROSS JOIN LATERAL (
    SELECT k.kpi_id, count(*)::int AS events
    FROM kpi_events k
    WHERE k.project_id = a.project_id AND k.occurred_at >= a.bucket AND k.occurred_at < a.bucket_end AND k.kpi_id = ANY($3::text[])
    GROUP BY k.kpi_id
  ) c`;

/** Breakdowns per day bucket: (project_id, metric_key, bucket, dimension_key, dimension_value, value, value_json). */
const SESSION_BREAKDOWN_FRESH = `
  SELECT a.project_id, v.metric_key, a.bucket, c.dimension_key, c.dimension_value, v.value, v.value_json
  FROM aff a
  CROSS JOIN LATERAL (
    SELECT d.dimension_key, d.dimension_value, ${SESSION_STATS_COMPONENTS}
    FROM sessions s
    CROSS JOIN LATERAL (VALUES ('entry_page', s.entry_page), ('exit_page', s.exit_page)) AS d(dimension_key, dimension_value)
    WHERE s.project_id = a.project_id AND s.started_at >= a.bucket AND s.started_at < a.bucket_end
    GROUP BY d.dimension_key, d.dimension_value
  ) c
  CROSS JOIN LATERAL (VALUES
      ${unpivot(SESSION_METRICS.filter((m) => m.breakdownDimensions.length > 0))}
  ) AS v(metric_key, value, value_json)
  WHERE a.grain = 'day'`;

/**
 * Drop-off by step: the sessions that dropped off at the step / all the bucket's sessions (the
 * steps' rates add up to the drop-off rate). The group of sessions that did not drop off (step
 * null, numerator 0) is stored too: it carries the bucket's total for buckets where no one dropped off.
 */
const DROP_OFF_BY_STEP: Measure = { kind: 'rate', numerator: 'dropped', denominator: 'bucket_sessions' };
const QUALITY_BREAKDOWN_FRESH = `
  SELECT a.project_id, 'drop_off_rate' AS metric_key, a.bucket, 'drop_off_step' AS dimension_key, c.dimension_value,
         ${measureValueSql(DROP_OFF_BY_STEP)} AS value, ${measureComponentsJsonSql(DROP_OFF_BY_STEP)} AS value_json
  FROM aff a
  CROSS JOIN LATERAL (
    SELECT g.*, sum(g.sessions) OVER ()::int AS bucket_sessions
    FROM (
      SELECT m.drop_off_step AS dimension_value, ${SESSION_METRICS_COMPONENTS}
      FROM ${SESSION_METRICS_FROM}
      WHERE s.project_id = a.project_id AND s.started_at >= a.bucket AND s.started_at < a.bucket_end
      GROUP BY m.drop_off_step
    ) g
  ) c
  WHERE a.grain = 'day'`;

const KPI_BREAKDOWN_FRESH = `
  SELECT a.project_id, c.kpi_id AS metric_key, a.bucket, 'source' AS dimension_key, c.dimension_value,
         ${measureValueSql(KPI_MEASURE)}::float8 AS value, ${measureComponentsJsonSql(KPI_MEASURE)} AS value_json
  FROM aff a
  CROSS JOIN LATERAL (
    SELECT k.kpi_id, k.metadata->>'source' AS dimension_value, count(*)::int AS events
    FROM kpi_events k
    WHERE k.project_id = a.project_id AND k.occurred_at >= a.bucket AND k.occurred_at < a.bucket_end AND k.kpi_id = ANY($3::text[])
    GROUP BY k.kpi_id, k.metadata->>'source'
  ) c
  WHERE a.grain = 'day'`;

/** Drilldown rows of the day buckets starting at or after $3 (the drilldown retention cutoff); $4 the metric keys. */
const SESSION_DRILLDOWN_FRESH = `
  SELECT a.project_id, 'sessions' AS metric_key, 'session' AS entity_type, NULL::uuid AS entity_id, x.session_id AS reference_id,
         a.bucket, x.payload
  FROM aff a
  CROSS JOIN LATERAL (
    SELECT s.session_id,
           jsonb_build_object(
             'startedAt', s.started_at, 'status', s.status, 'entryPage', s.entry_page, 'exitPage', s.exit_page,
             'durationSeconds', s.duration_seconds, 'pageCount', s.page_count, 'bounced', s.bounced, 'converted', s.converted,
             'hasMetrics', m.session_id IS NOT NULL AND s.status = 'completed',
             'droppedOff', m.dropped_off, 'dropOffStep', m.drop_off_step) AS payload
    FROM sessions s
    LEFT JOIN session_metrics m ON m.project_id = s.project_id AND m.session_id = s.session_id
    WHERE s.project_id = a.project_id AND s.started_at >= a.bucket AND s.started_at < a.bucket_end
  ) x
  WHERE a.grain = 'day' AND a.bucket >= $3 AND 'sessions' = ANY($4::text[])`;

const KPI_DRILLDOWN_FRESH = `
  SELECT a.project_id, x.kpi_id AS metric_key, 'kpi_event' AS entity_type, x.id AS entity_id, NULL::text AS reference_id,
         a.bucket, x.payload
  FROM aff a
  CROSS JOIN LATERAL (
    SELECT k.kpi_id, k.id,
           jsonb_build_object('userId', k.user_id, 'occurredAt', k.occurred_at, 'step', k.metadata->'step', 'source', k.metadata->'source') AS payload
    FROM kpi_events k
    WHERE k.project_id = a.project_id AND k.occurred_at >= a.bucket AND k.occurred_at < a.bucket_end AND k.kpi_id = ANY($4::text[])
  ) x
  WHERE a.grain = 'day' AND a.bucket >= $3`;

export interface WriteCounts {
  upserted: number;
  deleted: number;
}

export interface TrendPointRow {
  bucket: Date;
  value: number | null;
  computedAt: Date | null;
}

export interface BreakdownRow {
  dimensionValue: string | null;
  value: number | null;
  sampleSize: number;
}

export interface DrilldownRow {
  id: string;
  entityType: string;
  entityId: string | null;
  referenceId: string | null;
  bucket: Date | null;
  payload: Record<string, unknown>;
}

export interface SummaryRow {
  capturedAt: Date;
  version: string;
  scope: unknown;
  payload: Record<string, unknown>;
}

/** Every query of the metrics read model: the compute (diff, buckets, recompute), retention and the API reads. */
@Injectable()
export class MetricsReadModelRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** The compute works on one consistent snapshot of all sources. */
  transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    return this.db.transaction('REPEATABLE READ', work);
  }

  /** A full rebuild starts from nothing: the derived rows and what was counted. */
  async clearAll(tx: Db): Promise<void> {
    await execute(tx, `DELETE FROM metrics_trend_point`);
    await execute(tx, `DELETE FROM metrics_breakdown_point`);
    await execute(tx, `DELETE FROM metrics_drilldown`);
    await execute(tx, `DELETE FROM metrics_source_state`);
  }

  /** Finds the changed source rows and their affected buckets (temporary tables of this transaction), and records the new state. */
  async findChanges(tx: Db): Promise<{ sessions: number; kpiEvents: number; buckets: number }> {
    await execute(
      tx,
      `CREATE TEMP TABLE metrics_changed (
         project_id uuid NOT NULL, source text NOT NULL, entity_key text NOT NULL,
         new_at timestamptz, new_fingerprint text, old_at timestamptz
       ) ON COMMIT DROP`,
    );
    await execute(
      tx,
      `CREATE TEMP TABLE metrics_affected (
         project_id uuid NOT NULL, source text NOT NULL, grain metrics_time_grain NOT NULL,
         bucket timestamptz NOT NULL, bucket_end timestamptz NOT NULL,
         PRIMARY KEY (project_id, source, grain, bucket)
       ) ON COMMIT DROP`,
    );
    await execute(tx, FIND_CHANGES_SQL, [KPI_METRIC_KEYS]);
    await execute(tx, FIND_AFFECTED_SQL, [TIME_GRAINS]);
    await execute(tx, `ANALYZE metrics_affected`);
    await execute(
      tx,
      `INSERT INTO metrics_source_state (project_id, source, entity_key, counted_at, fingerprint)
       SELECT project_id, source, entity_key, new_at, new_fingerprint FROM metrics_changed WHERE new_fingerprint IS NOT NULL
       ON CONFLICT (project_id, source, entity_key) DO UPDATE SET counted_at = excluded.counted_at, fingerprint = excluded.fingerprint`,
    );
    await execute(
      tx,
      `DELETE FROM metrics_source_state st USING metrics_changed c
       WHERE c.new_fingerprint IS NULL AND st.project_id = c.project_id AND st.source = c.source AND st.entity_key = c.entity_key`,
    );
    const row = await queryOne<{ sessions: number; kpiEvents: number; buckets: number }>(
      tx,
      `SELECT (SELECT count(*) FROM metrics_changed WHERE source = 'session')::int AS sessions,
              (SELECT count(*) FROM metrics_changed WHERE source = 'kpi_event')::int AS "kpiEvents",
              (SELECT count(*) FROM metrics_affected)::int AS buckets`,
    );
    return row!;
  }

  /**
   * The recompute reads each affected bucket with an index range scan and looks each session's
   * metrics up by primary key. The planner cannot estimate a bucket's size from the outer row and
   * picks hash joins that scan all of session_metrics once per bucket (14 s instead of 1 s for
   * 50,000 sessions), so hash and merge joins are off for the recompute statements only.
   */
  private async indexLookupsOnly<T>(tx: Db, work: () => Promise<T>): Promise<T> {
    await execute(tx, `SET LOCAL enable_hashjoin = off`);
    await execute(tx, `SET LOCAL enable_mergejoin = off`);
    try {
      return await work();
    } finally {
      await execute(tx, `SET LOCAL enable_hashjoin = on`);
      await execute(tx, `SET LOCAL enable_mergejoin = on`);
    }
  }

  /** Projects with changed sources in this transaction's compute. */
  async changedProjects(tx: Db): Promise<string[]> {
    const rows = await queryRows<{ projectId: string }>(tx, `SELECT DISTINCT project_id AS "projectId" FROM metrics_changed`);
    return rows.map((r) => r.projectId);
  }

  /**
   * Recomputes every affected bucket's trend points from all of its source rows: upserts the
   * fresh rows (touching only those whose value changed) and deletes the points of affected
   * buckets that have no data any more.
   */
  async recomputeTrend(tx: Db, now: Date): Promise<WriteCounts> {
    return this.indexLookupsOnly(tx, () => this.writeTrend(tx, now));
  }

  private async writeTrend(tx: Db, now: Date): Promise<WriteCounts> {
    const total: WriteCounts = { upserted: 0, deleted: 0 };
    const parts: [string, string, string[]][] = [
      ['session', SESSION_TREND_FRESH, SESSION_METRICS.map((m) => m.key)],
      ['session', QUALITY_TREND_FRESH, QUALITY_METRICS.map((m) => m.key)],
      ['kpi_event', KPI_TREND_FRESH, KPI_METRIC_KEYS],
    ];
    for (const [source, fresh, metricKeys] of parts) {
      const row = await queryOne<WriteCounts>(
        tx,
        `WITH aff AS (SELECT * FROM metrics_affected WHERE source = $1),
         fresh AS (${fresh}),
         upserted AS (
           INSERT INTO metrics_trend_point AS t (project_id, metric_key, time_grain, time_bucket, dimensions, value_numeric, value_json, computed_at)
           SELECT project_id, metric_key, grain, bucket, '{}'::jsonb, value, value_json, $2 FROM fresh
           ON CONFLICT ON CONSTRAINT metrics_trend_point_key DO UPDATE
             SET value_numeric = excluded.value_numeric, value_json = excluded.value_json, computed_at = excluded.computed_at
             WHERE (t.value_numeric, t.value_json) IS DISTINCT FROM (excluded.value_numeric, excluded.value_json)
           RETURNING 1
         ),
         deleted AS (
           DELETE FROM metrics_trend_point t USING aff a
           WHERE t.project_id = a.project_id AND t.time_grain = a.grain AND t.time_bucket = a.bucket
             AND t.metric_key = ANY($3::text[])
             AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.project_id = t.project_id AND f.metric_key = t.metric_key
                                                     AND f.grain = t.time_grain AND f.bucket = t.time_bucket)
           RETURNING 1
         )
         SELECT (SELECT count(*) FROM upserted)::int AS upserted, (SELECT count(*) FROM deleted)::int AS deleted`,
        [source, now, metricKeys],
      );
      total.upserted += row!.upserted;
      total.deleted += row!.deleted;
    }
    return total;
  }

  /** The same for the day-bucket breakdowns: sessions by entry/exit page, drop-off by step, KPI events by source. */
  async recomputeBreakdown(tx: Db, now: Date): Promise<WriteCounts> {
    return this.indexLookupsOnly(tx, () => this.writeBreakdown(tx, now));
  }

  private async writeBreakdown(tx: Db, now: Date): Promise<WriteCounts> {
    const total: WriteCounts = { upserted: 0, deleted: 0 };
    const parts: [string, string, string[], string[]][] = [
      ['session', SESSION_BREAKDOWN_FRESH, SESSION_METRICS.filter((m) => m.breakdownDimensions.length).map((m) => m.key), ['entry_page', 'exit_page']],
      ['session', QUALITY_BREAKDOWN_FRESH, ['drop_off_rate'], ['drop_off_step']],
      ['kpi_event', KPI_BREAKDOWN_FRESH, KPI_METRIC_KEYS, ['source']],
    ];
    for (const [source, fresh, metricKeys, dimensions] of parts) {
      const row = await queryOne<WriteCounts>(
        tx,
        `WITH aff AS (SELECT * FROM metrics_affected WHERE source = $1),
         fresh AS (${fresh}),
         upserted AS (
           INSERT INTO metrics_breakdown_point AS t (project_id, metric_key, time_grain, time_bucket, dimension_key, dimension_value,
                                                     value_numeric, value_json, computed_at)
           SELECT project_id, metric_key, 'day', bucket, dimension_key, dimension_value, value, value_json, $2 FROM fresh
           ON CONFLICT ON CONSTRAINT metrics_breakdown_point_key DO UPDATE
             SET value_numeric = excluded.value_numeric, value_json = excluded.value_json, computed_at = excluded.computed_at
             WHERE (t.value_numeric, t.value_json) IS DISTINCT FROM (excluded.value_numeric, excluded.value_json)
           RETURNING 1
         ),
         deleted AS (
           DELETE FROM metrics_breakdown_point t USING aff a
           WHERE a.grain = 'day' AND t.project_id = a.project_id AND t.time_grain = 'day' AND t.time_bucket = a.bucket
             AND t.metric_key = ANY($3::text[]) AND t.dimension_key = ANY($4::text[])
             AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.project_id = t.project_id AND f.metric_key = t.metric_key
                                                     AND f.bucket = t.time_bucket AND f.dimension_key = t.dimension_key
                                                     AND f.dimension_value IS NOT DISTINCT FROM t.dimension_value)
           RETURNING 1
         )
         SELECT (SELECT count(*) FROM upserted)::int AS upserted, (SELECT count(*) FROM deleted)::int AS deleted`,
        [source, now, metricKeys, dimensions],
      );
      total.upserted += row!.upserted;
      total.deleted += row!.deleted;
    }
    return total;
  }

  /** Drilldown rows of the affected day buckets that are not older than `cutoff` (retention would drop them at once). */
  async recomputeDrilldown(tx: Db, now: Date, cutoff: Date): Promise<WriteCounts> {
    return this.indexLookupsOnly(tx, () => this.writeDrilldown(tx, now, cutoff));
  }

  private async writeDrilldown(tx: Db, now: Date, cutoff: Date): Promise<WriteCounts> {
    const total: WriteCounts = { upserted: 0, deleted: 0 };
    const parts: [string, string, string, string[]][] = [
      ['session', SESSION_DRILLDOWN_FRESH, 'session', ['sessions']],
      ['kpi_event', KPI_DRILLDOWN_FRESH, 'kpi_event', KPI_METRIC_KEYS],
    ];
    for (const [source, fresh, entityType, metricKeys] of parts) {
      const row = await queryOne<WriteCounts>(
        tx,
        `WITH aff AS (SELECT * FROM metrics_affected WHERE source = $1),
         fresh AS (${fresh}),
         upserted AS (
           INSERT INTO metrics_drilldown AS t (project_id, metric_key, entity_type, entity_id, reference_id, time_bucket, payload, computed_at)
           SELECT project_id, metric_key, entity_type, entity_id, reference_id, bucket, payload, $2 FROM fresh
           ON CONFLICT ON CONSTRAINT metrics_drilldown_key DO UPDATE
             SET time_bucket = excluded.time_bucket, payload = excluded.payload, computed_at = excluded.computed_at
             WHERE (t.time_bucket, t.payload) IS DISTINCT FROM (excluded.time_bucket, excluded.payload)
           RETURNING 1
         ),
         deleted AS (
           DELETE FROM metrics_drilldown t USING aff a
           WHERE a.grain = 'day' AND t.project_id = a.project_id AND t.entity_type = $5 AND t.time_bucket = a.bucket
             AND t.metric_key = ANY($4::text[])
             AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.project_id = t.project_id AND f.metric_key = t.metric_key
                                                     AND f.entity_id IS NOT DISTINCT FROM t.entity_id
                                                     AND f.reference_id IS NOT DISTINCT FROM t.reference_id)
           RETURNING 1
         )
         SELECT (SELECT count(*) FROM upserted)::int AS upserted, (SELECT count(*) FROM deleted)::int AS deleted`,
        [source, now, cutoff, metricKeys, entityType],
      );
      total.upserted += row!.upserted;
      total.deleted += row!.deleted;
    }
    return total;
  }

  /** Projects whose newest summary is older than `before` (or that have none) and have any source data. */
  async projectsWithStaleSummary(tx: Db, before: Date): Promise<{ id: string; timezone: string }[]> {
    return queryRows(
      tx,
      `SELECT p.id, p.timezone FROM projects p
       WHERE (EXISTS (SELECT 1 FROM metrics_source_state st WHERE st.project_id = p.id))
         AND NOT EXISTS (SELECT 1 FROM metrics_summary ms WHERE ms.project_id = p.id AND ms.captured_at >= $1)`,
      [before],
    );
  }

  /** The live session statistics (GET …/stats/sessions) over [from, to): the same statement. */
  async sessionStats(tx: Db, projectId: string, from: Date, to: Date) {
    return (await queryOne<Record<string, number | null>>(tx, SESSION_STATS_SQL, [projectId, from, to]))!;
  }

  /** The live session-metrics statistics (GET …/stats/session-metrics) over [from, to): the same statement. */
  async sessionMetricsStats(tx: Db, projectId: string, from: Date, to: Date) {
    return (await queryOne<Record<string, number | null>>(tx, SESSION_METRICS_STATS_SQL, [projectId, from, to]))!;
  }

  /** Recorded events per catalogue KPI over [from, to). */
  async kpiCounts(tx: Db, projectId: string, from: Date, to: Date): Promise<Record<string, number>> {
    const rows = await queryRows<{ kpiId: string; events: number }>(
      tx,
      `SELECT k.kpi_id AS "kpiId", count(*)::int AS events FROM kpi_events k
       WHERE k.project_id = $1 AND k.occurred_at >= $2 AND k.occurred_at < $3 AND k.kpi_id = ANY($4::text[])
       GROUP BY k.kpi_id`,
      [projectId, from, to, KPI_METRIC_KEYS],
    );
    return Object.fromEntries(KPI_METRIC_KEYS.map((k) => [k, rows.find((r) => r.kpiId === k)?.events ?? 0]));
  }

  async insertSummary(tx: Db, projectId: string, capturedAt: Date, version: string, payload: unknown): Promise<void> {
    await execute(
      tx,
      `INSERT INTO metrics_summary (project_id, captured_at, version, scope, payload, created_at) VALUES ($1, $2, $3, NULL, $4, $2)`,
      [projectId, capturedAt, version, JSON.stringify(payload)],
    );
  }

  // ---- reads (Metrics API) ----

  findSummary(projectId: string, at: Date): Promise<SummaryRow | undefined> {
    return queryOne(
      this.db,
      `SELECT captured_at AS "capturedAt", version, scope, payload FROM metrics_summary
       WHERE project_id = $1 AND captured_at <= $2 ORDER BY captured_at DESC, id DESC LIMIT 1`,
      [projectId, at],
    );
  }

  /** How many `grain` buckets of the project's calendar hold an instant of [from, to) (ranges already capped by the caller). */
  async countBuckets(timezone: string, grain: TimeGrain, from: Date, to: Date): Promise<number> {
    const row = await queryOne<{ n: number }>(
      this.db,
      `SELECT count(*)::int AS n FROM generate_series(date_trunc($1, $3::timestamptz AT TIME ZONE $2),
                                                      date_trunc($1, ($4::timestamptz - interval '1 millisecond') AT TIME ZONE $2),
                                                      ('1 ' || $1)::interval)`,
      [grain, timezone, from, to],
    );
    return row!.n;
  }

  /** The start of the first `week` bucket at or after `at`, in the project's calendar. */
  async nextWeekStart(timezone: string, at: Date): Promise<Date> {
    const row = await queryOne<{ start: Date }>(
      this.db,
      `SELECT CASE WHEN date_trunc('week', $2::timestamptz AT TIME ZONE $1) AT TIME ZONE $1 >= $2::timestamptz
                   THEN date_trunc('week', $2::timestamptz AT TIME ZONE $1) AT TIME ZONE $1
                   ELSE (date_trunc('week', $2::timestamptz AT TIME ZONE $1) + interval '1 week') AT TIME ZONE $1 END AS start`,
      [timezone, at],
    );
    return row!.start;
  }

  /**
   * Every `grain` bucket holding an instant of [from, to) with its stored point (value null and
   * no computedAt where there is none).
   */
  trendPoints(projectId: string, metricKey: string, timezone: string, grain: TimeGrain, from: Date, to: Date): Promise<TrendPointRow[]> {
    return queryRows(
      this.db,
      `WITH buckets AS (
         SELECT b AT TIME ZONE $3 AS bucket
         FROM generate_series(date_trunc($4, $5::timestamptz AT TIME ZONE $3),
                              date_trunc($4, ($6::timestamptz - interval '1 millisecond') AT TIME ZONE $3),
                              ('1 ' || $4)::interval) AS b
       )
       SELECT b.bucket, t.value_numeric AS value, t.computed_at AS "computedAt"
       FROM buckets b
       LEFT JOIN metrics_trend_point t ON t.project_id = $1 AND t.metric_key = $2 AND t.time_grain = $4::metrics_time_grain
                                      AND t.time_bucket = b.bucket AND t.dimensions = '{}'::jsonb
       ORDER BY b.bucket`,
      [projectId, metricKey, timezone, grain, from, to],
    );
  }

  /**
   * Day-bucket breakdown rows of [from, to) combined per dimension value from their components,
   * largest value first. Where the dimension splits a bucket's total (`shareOfBucket`, e.g. drop-off
   * by step), the denominator is the total of every bucket of the range (carried by each of its
   * rows), and the group without a value only carries it.
   */
  breakdown(
    projectId: string,
    q: { metricKey: string; kind: MeasureKind; dimension: string; shareOfBucket: boolean; timezone: string; from: Date; to: Date; limit: number },
  ): Promise<BreakdownRow[]> {
    const params = [projectId, q.metricKey, q.dimension, q.timezone, q.from, q.to, q.limit];
    const ranged = `
      SELECT * FROM metrics_breakdown_point
      WHERE project_id = $1 AND metric_key = $2 AND dimension_key = $3 AND time_grain = 'day'
        AND time_bucket >= date_trunc('day', $5::timestamptz AT TIME ZONE $4) AT TIME ZONE $4 AND time_bucket < $6`;
    if (q.shareOfBucket) {
      const share: Measure = { kind: 'rate', numerator: `sum((b.value_json->>'numerator')::numeric)`, denominator: 'total.denominator' };
      return queryRows(
        this.db,
        `WITH b AS (${ranged}),
         total AS (
           SELECT coalesce(sum(denominator), 0) AS denominator
           FROM (SELECT DISTINCT ON (time_bucket) (value_json->>'denominator')::numeric AS denominator FROM b ORDER BY time_bucket) per_bucket
         )
         SELECT b.dimension_value AS "dimensionValue", ${measureValueSql(share)} AS value, total.denominator::int AS "sampleSize"
         FROM b CROSS JOIN total
         WHERE b.dimension_value IS NOT NULL
         GROUP BY b.dimension_value, total.denominator
         ORDER BY value DESC NULLS LAST, b.dimension_value
         LIMIT $7`,
        params,
      );
    }
    return queryRows(
      this.db,
      `WITH b AS (${ranged})
       SELECT b.dimension_value AS "dimensionValue", ${combinedMeasureValueSql(q.kind, 'b')} AS value,
              ${combinedSampleSizeSql(q.kind, 'b')}::int AS "sampleSize"
       FROM b
       GROUP BY b.dimension_value
       ORDER BY value DESC NULLS LAST, "sampleSize" DESC, b.dimension_value NULLS LAST
       LIMIT $7`,
      params,
    );
  }

  /** Drilldown rows of day buckets of [from, to), newest bucket first; `before` = (bucket, id) of the previous page's last row. */
  drilldown(
    projectId: string,
    q: { metricKey: string; entityType: string; onlyWithMetrics: boolean; timezone: string; from: Date; to: Date; limit: number },
    before?: { bucket: string; id: string },
  ): Promise<DrilldownRow[]> {
    return queryRows(
      this.db,
      `SELECT id, entity_type AS "entityType", entity_id AS "entityId", reference_id AS "referenceId", time_bucket AS bucket, payload
       FROM metrics_drilldown
       WHERE project_id = $1 AND metric_key = $2 AND entity_type = $3
         AND time_bucket >= date_trunc('day', $5::timestamptz AT TIME ZONE $4) AT TIME ZONE $4 AND time_bucket < $6
         AND (NOT $7 OR (payload->>'hasMetrics')::boolean)
         AND ($8::timestamptz IS NULL OR (time_bucket, id) < ($8::timestamptz, $9::uuid))
       ORDER BY time_bucket DESC, id DESC
       LIMIT $10`,
      [projectId, q.metricKey, q.entityType, q.timezone, q.from, q.to, q.onlyWithMetrics, before?.bucket ?? null, before?.id ?? null, q.limit],
    );
  }

  // ---- retention ----

  async deleteOldSummaries(before: Date): Promise<number> {
    return execute(this.db, `DELETE FROM metrics_summary WHERE captured_at < $1`, [before]);
  }

  /** Snapshots captured before `before` except the last of each UTC day. */
  async thinSummaries(before: Date): Promise<number> {
    return execute(
      this.db,
      `DELETE FROM metrics_summary ms
       WHERE ms.captured_at < $1
         AND EXISTS (SELECT 1 FROM metrics_summary later
                     WHERE later.project_id = ms.project_id
                       AND date_trunc('day', later.captured_at AT TIME ZONE 'UTC') = date_trunc('day', ms.captured_at AT TIME ZONE 'UTC')
                       AND (later.captured_at, later.id) > (ms.captured_at, ms.id))`,
      [before],
    );
  }

  async deleteTrendPoints(grains: readonly TimeGrain[], before: Date): Promise<number> {
    return execute(this.db, `DELETE FROM metrics_trend_point WHERE time_grain = ANY($1::metrics_time_grain[]) AND time_bucket < $2`, [grains, before]);
  }

  async deleteBreakdownPoints(before: Date): Promise<number> {
    return execute(this.db, `DELETE FROM metrics_breakdown_point WHERE time_bucket < $1`, [before]);
  }

  async deleteDrilldown(before: Date): Promise<number> {
    return execute(this.db, `DELETE FROM metrics_drilldown WHERE time_bucket < $1`, [before]);
  }
}
