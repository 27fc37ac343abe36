import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import {
  MEASURE_PARTS,
  combinedMeasureValueSql,
  combinedSampleSizeSql,
  measureComponentsJsonSql,
  measureValueSql,
  percentileOfSortedRunsSql,
  type Measure,
  type MeasureKind,
  type PercentileComponent,
} from '../common/database/measures.js';
import { alongside, type AlongsidePlan } from '../common/database/alongside.js';
import { refillWithIndexesBuiltAfter } from '../common/database/refill.js';
import { execute, lookUpByKey, queryOne, queryPrepared, queryRows, type Db } from '../common/database/sql.js';
import { uuidV7Run, UUID_V7_RUN_SQL } from '../common/database/uuid-v7.js';
import {
  SESSION_METRICS_ADDITIVE_COMPONENTS,
  SESSION_METRICS_COMPONENTS,
  SESSION_METRICS_PERCENTILES,
  sessionMetricsFrom,
} from '../session-metrics/session-metrics.repository.js';
import { SESSION_STATS_ADDITIVE_COMPONENTS, SESSION_STATS_COMPONENTS, SESSION_STATS_PERCENTILES } from '../sessions/session-stats.sql.js';
import {
  KPI_METRIC_KEYS,
  METRIC_CATALOGUE,
  findMetric,
  metricsOfSource,
  TIME_GRAINS,
  type MetricDefinition,
  type TimeGrain,
} from './metric-catalogue.constants.js';
import { SYSTEM_PROJECT_ID } from '../projects/projects.repository.js';

/** Metric keys and dimension names are code constants; checked before they are written into SQL text. */
function literal(text: string): string {
  if (!/^[a-z0-9_.]+$/.test(text)) throw new Error(`not a SQL-safe constant: ${text}`);
  return `'${text}'`;
}

/**
 * The start instants of every `grain` bucket holding an instant of [from, to) in time zone `tz`
 * (SQL expressions), as rows of `bucket`. Days, weeks and months are local calendar ranges. Hours
 * are the buckets of the range's quarter hours (hourStartSql, the compute's own): a local hour
 * starts at the zone's offset within the hour (:30 UTC in Kolkata), and a daylight-saving day has
 * 23 or 25 of them, which a series of local times would not give (it repeats the skipped hour and
 * drops the repeated one); where a change shifts the offset within the hour, the hours after it
 * start at another minute.
 */
function bucketStartsSql(grain: TimeGrain, tz: string, from: string, to: string): string {
  if (grain === 'hour') {
    return `SELECT DISTINCT ${hourStartSql('r.q', tz)} AS bucket
            FROM generate_series(${quarterSql(from)}, ${to} - interval '1 millisecond', interval '15 minutes') AS r(q)`;
  }
  return `SELECT b AT TIME ZONE ${tz} AS bucket
          FROM generate_series(date_trunc(${literal(grain)}, ${from} AT TIME ZONE ${tz}),
                               date_trunc(${literal(grain)}, (${to} - interval '1 millisecond') AT TIME ZONE ${tz}),
                               ('1 ' || ${literal(grain)})::interval) AS b`;
}

/** The (metric_key, value, value_json) rows of a source's metrics from one row of its components. */
function unpivot(metrics: MetricDefinition[]): string {
  return metrics.map((m) => `(${literal(m.key)}, ${measureValueSql(m.measure)}, ${measureComponentsJsonSql(m.measure)})`).join(',\n      ');
}

const SESSION_METRICS = metricsOfSource('sessions');
const QUALITY_METRICS = metricsOfSource('session_metrics');
const KPI_MEASURE: Measure = { kind: 'count', count: 'events' };

/**
 * The columns the read model counts, per source table: a metric, breakdown or drilldown reads
 * these and no others. The change-log triggers (migration 1764000730000) log an update only where
 * one of them changed, so a write that changed none of them (a session's metrics recomputed to the
 * same values) affects no bucket. A release that reads another column changes the triggers and
 * this list together, and so the definition below: the next compute rebuilds in full.
 */
const COUNTED_COLUMNS = {
  sessions: ['status', 'started_at', 'duration_seconds', 'page_count', 'bounced', 'converted', 'entry_page', 'exit_page'],
  session_metrics: ['time_to_first_draft_ms', 'completion_rate', 'confirmation_rate', 'signal_density', 'dropped_off', 'drop_off_step'],
  kpi_events: ['kpi_id', 'user_id', 'occurred_at', 'metadata'],
};

/**
 * The source rows changed since the last compute, from the log rows of the run's snapshot
 * (metrics_source_change, consumed by the run, see consumeChangeLog): each logged key once, with
 * the instant that buckets its current row (null when it is gone), looked up by key (lookUpByKey).
 * A KPI event counts only under a catalogue KPI id; its key is its uuid as text. $1: the KPI ids.
 * With `keepRows`, the current rows themselves are kept too (metrics_changed_sessions and
 * metrics_changed_kpi_events), for the drilldown rows, which thus look each changed row up once:
 * the second lookup of 10,000 sessions was 30–40 ms of the bench's incremental run.
 */
const findChangesSql = (keepRows: boolean) => {
  const kept = (alias: string, at: string) => (keepRows ? `${alias} AS row, ${at} AS at` : `${at} AS at`);
  return `
WITH found AS MATERIALIZED (
  SELECT k.project_id, k.source, k.entity_key, coalesce(cs.at, ce.at) AS at${keepRows ? ', cs.row AS session, ce.row AS kpi_event' : ''}
  FROM (SELECT DISTINCT project_id, source, entity_key FROM metrics_source_change) k
  LEFT JOIN LATERAL (
    ${lookUpByKey('sessions s', "k.source = 'session' AND s.project_id = k.project_id AND s.session_id = k.entity_key", kept('s', 's.started_at'))}
  ) cs ON true
  LEFT JOIN LATERAL (
    ${lookUpByKey('kpi_events e', `k.source = 'kpi_event' AND e.project_id = k.project_id AND e.id = ${kpiEventIdOfKey('k')} AND e.kpi_id = ANY($1::text[])`, kept('e', 'e.occurred_at'))}
  ) ce ON true
)${
    keepRows
      ? `,
kept_sessions AS (INSERT INTO metrics_changed_sessions SELECT (session).* FROM found WHERE source = 'session' AND at IS NOT NULL),
kept_kpi_events AS (INSERT INTO metrics_changed_kpi_events SELECT (kpi_event).* FROM found WHERE source = 'kpi_event' AND at IS NOT NULL)`
      : ''
  }
INSERT INTO metrics_changed (project_id, source, entity_key, new_at)
SELECT project_id, source, entity_key, at FROM found`;
};

/**
 * What the stored rows depend on: the catalogue, the counted columns and the components each
 * figure is made of. When a release changes it, rows written before it were computed under the
 * old one and no writer will log their sources again, so the next compute rebuilds in full (see
 * `definitionChanged`).
 */
export const READ_MODEL_DEFINITION = createHash('sha256')
  .update(
    JSON.stringify({
      catalogue: METRIC_CATALOGUE,
      countedColumns: COUNTED_COLUMNS,
      components: [SESSION_STATS_COMPONENTS, SESSION_METRICS_COMPONENTS],
      changeLog: 'old instants (1764000730000)',
      // rows written before are rewritten: a reactivated session's drilldown kept its stale drop-off
      drilldownPayload: 'drop-off of completed sessions only',
      // weeks and months of incremental runs come from the day points and day values (1764000780000)
      dayValues: 'metrics_day_values',
    }),
  )
  .digest('hex');

/**
 * Every instant a changed source row is counted at now or was counted at by the last compute: the
 * current instants of the changed rows, and the old instants their log rows carry (incremental run).
 */
const CHANGED_INSTANTS_SQL = `
  SELECT project_id, source, new_at AS at FROM metrics_changed WHERE new_at IS NOT NULL
  UNION ALL
  SELECT project_id, source, old_at FROM metrics_source_change WHERE old_at IS NOT NULL`;

/**
 * Every source row's instant from $3 on (a full rebuild: from -infinity; its drilldown: from the
 * drilldown cutoff). $2: the KPI ids.
 */
const INSTANTS_SINCE_SQL = `
  SELECT project_id, 'session' AS source, started_at AS at FROM sessions WHERE started_at >= $3::timestamptz
  UNION ALL
  SELECT project_id, 'kpi_event', occurred_at FROM kpi_events WHERE kpi_id = ANY($2::text[]) AND occurred_at >= $3::timestamptz`;

/** The uuid of a KPI event whose key is the change log row `c`'s (its text; cast only for KPI events' keys). */
function kpiEventIdOfKey(c: string): string {
  return `(CASE WHEN ${c}.source = 'kpi_event' THEN ${c}.entity_key::uuid END)`;
}

/** Instants are reduced to quarter hours: every IANA offset is a multiple of 15 minutes, so all instants of a quarter share their buckets. */
function quarterSql(at: string): string {
  return `date_bin('15 minutes', ${at}, timestamptz '2000-01-01T00:00:00Z')`;
}

/**
 * THE hour bucket of an instant: the local hour holding `at` — the instant less the local time
 * elapsed within its local hour, which stays right in a repeated DST hour and starts at :30 UTC in
 * Kolkata. Where the offset changed within that hour by less than an hour (Lord Howe Island moves
 * by 30 minutes), the local hour began under the old offset, before the instants of the previous
 * bucket end: the bucket then starts at the change (the first quarter hour with the instant's
 * offset), so hour buckets still tile time, some of them shorter than an hour. The quarters are
 * counted from the quarter holding the local start, so one with the instant's offset is always
 * found (`at` is a quarter), also where an offset is no whole number of quarters: until 1979 some
 * zones had such offsets (Kuching +08:20 in 1941), and there instants are bucketed by their
 * quarter hour (see quarterSql), so a bucket can start up to 14 minutes off its local hour.
 */
function hourStartSql(at: string, tz: string): string {
  const localStart = `(${at} - (${at} AT TIME ZONE ${tz} - date_trunc('hour', ${at} AT TIME ZONE ${tz})))`;
  const offset = (instant: string) => `(${instant} AT TIME ZONE ${tz} - ${instant} AT TIME ZONE 'UTC')`;
  return `(CASE WHEN ${offset(localStart)} = ${offset(at)} THEN ${localStart}
          ELSE (SELECT min(c.q) FROM generate_series(${quarterSql(localStart)}, ${at}, interval '15 minutes') AS c(q) WHERE ${offset('c.q')} = ${offset(at)})
          END)`;
}

/**
 * THE bucket of an instant (grains day, week, month): the local start (timestamp without time zone) of the `grain` bucket
 * holding instant `at` in timezone `tz` — the local `date_trunc(grain, …)`, or the bucket before
 * where DST makes that local start ambiguous and it resolves after the instant.
 */
function localBucketStartSql(grain: string, at: string, tz: string): string {
  const local = `date_trunc(${grain}, ${at} AT TIME ZONE ${tz})`;
  return `(CASE WHEN ${local} AT TIME ZONE ${tz} > ${at} THEN ${local} - ('1 ' || ${grain})::interval ELSE ${local} END)`;
}

/**
 * Every bucket (each grain) holding one of the `instants` (project_id, source, at), as instants
 * [bucket, bucket_end) in the project's timezone. $1: the grains.
 */
const findAffectedSql = (instants: string) => `
INSERT INTO metrics_affected (project_id, source, grain, bucket, bucket_end)
WITH instants AS (${instants}),
quarters AS (
  SELECT d.project_id, d.source, p.timezone AS tz, d.q
  FROM (SELECT DISTINCT i.project_id, i.source, ${quarterSql('i.at')} AS q FROM instants i) d
  JOIN projects p ON p.id = d.project_id
),
local_starts AS (
  SELECT DISTINCT q.project_id, q.source, q.tz, g.grain,
         CASE WHEN g.grain <> 'hour' THEN ${localBucketStartSql('g.grain', 'q.q', 'q.tz')} END AS local_start,
         CASE WHEN g.grain = 'hour' THEN ${hourStartSql('q.q', 'q.tz')} END AS hour_start
  FROM quarters q CROSS JOIN unnest($1::text[]) AS g(grain)
)
SELECT project_id, source, grain::metrics_time_grain,
       CASE WHEN grain = 'hour' THEN hour_start ELSE local_start AT TIME ZONE tz END,
       CASE WHEN grain = 'hour' THEN hour_start + interval '1 hour' ELSE (local_start + ('1 ' || grain)::interval) AT TIME ZONE tz END
FROM local_starts`;

/**
 * The buckets of every grain of each quarter hour of an affected bucket, so the recompute reads
 * the rows of all affected buckets in one pass and groups them by all grains at once; and whether
 * the quarter's day bucket is affected (the breakdowns and drilldowns are per day bucket).
 */
const BUILD_BUCKET_MAP_SQL = `
INSERT INTO metrics_bucket_map (project_id, source, q, hour_bucket, day_bucket, week_bucket, month_bucket, day_affected)
WITH quarters AS (
  SELECT DISTINCT a.project_id, a.source, q
  FROM metrics_affected a
  CROSS JOIN LATERAL generate_series(${quarterSql('a.bucket')}, a.bucket_end - interval '1 microsecond', interval '15 minutes') AS q
),
mapped AS (
  SELECT q.project_id, q.source, q.q,
         ${hourStartSql('q.q', 'p.timezone')} AS hour_bucket,
         ${localBucketStartSql(`'day'`, 'q.q', 'p.timezone')} AT TIME ZONE p.timezone AS day_bucket,
         ${localBucketStartSql(`'week'`, 'q.q', 'p.timezone')} AT TIME ZONE p.timezone AS week_bucket,
         ${localBucketStartSql(`'month'`, 'q.q', 'p.timezone')} AT TIME ZONE p.timezone AS month_bucket
  FROM quarters q JOIN projects p ON p.id = q.project_id
)
SELECT m.*, EXISTS (SELECT 1 FROM metrics_affected a WHERE a.project_id = m.project_id AND a.source = m.source AND a.grain = 'day' AND a.bucket = m.day_bucket)
FROM mapped m`;

/**
 * The recompute statements read, per source, the rows of the span of all affected buckets
 * ($1 project ids, [$2, $3)) in one pass, give each row its bucket of every grain through the
 * bucket map `b` (rows of quarters outside the affected buckets drop out there), group, and keep
 * the groups of affected buckets (`aff`). Each affected bucket is thus computed from all its rows.
 */
function bucketMapJoin(source: string, projectId: string, at: string): string {
  return `JOIN metrics_bucket_map b ON b.project_id = ${projectId} AND b.source = ${literal(source)} AND b.q = ${quarterSql(at)}`;
}

/** The grains whose buckets hold each other's (each hour bucket lies in one day, each day in one month), outermost first. */
const NESTED_GRAINS: readonly TimeGrain[] = ['month', 'day', 'hour'];

/**
 * One grouping set per grain of `grains` (the grain's bucket column of the bucket map), and a
 * group's grain and bucket. Where the bucket map says that the buckets nest (`nested`, see
 * bucketNesting), the sets of hour, day and month are one chain, (month, day, hour), (month, day),
 * (month): the same groups, as each hour bucket lies in one day and each day in one month, but
 * grouped in one sort of the rows instead of one sort per grain (week needs its own).
 */
function grainSets(keys: string, grains: readonly TimeGrain[], nested: boolean): string {
  if (!nested) return `GROUPING SETS (${grains.map((g) => `(${keys}, b.${g}_bucket)`).join(', ')})`;
  const chain = NESTED_GRAINS.filter((g) => grains.includes(g));
  const sets = chain.map((_, i) => chain.slice(0, chain.length - i));
  if (grains.includes('week')) sets.push(['week']);
  return `GROUPING SETS (${sets.map((set) => `(${keys}, ${set.map((g) => `b.${g}_bucket`).join(', ')})`).join(', ')})`;
}

function setGrain(grains: readonly TimeGrain[]): string {
  return `(CASE ${grains.map((g) => `WHEN grouping(b.${g}_bucket) = 0 THEN ${literal(g)}`).join(' ')} END)::metrics_time_grain`;
}

function setBucket(grains: readonly TimeGrain[]): string {
  return `coalesce(${grains.map((g) => `b.${g}_bucket`).join(', ')})`;
}

/**
 * Trend of metrics bucketed by the session's start, for `grains`: a CTE list ending in
 * fresh(project_id, metric_key, grain, bucket, value, value_json). `from` names the rows (sessions
 * `s`, joined with whatever else the components read).
 */
const sessionTrendFresh = (from: string, components: string, metrics: MetricDefinition[]) => (grains: readonly TimeGrain[], nested: boolean) => `
  grouped AS (
    SELECT s.project_id, ${setGrain(grains)} AS grain, ${setBucket(grains)} AS bucket, ${components}
    FROM ${from}
    ${bucketMapJoin('session', 's.project_id', 's.started_at')}
    WHERE s.project_id = ANY($1::uuid[]) AND s.started_at >= $2::timestamptz AND s.started_at < $3::timestamptz
    GROUP BY ${grainSets('s.project_id', grains, nested)}
  ),
  fresh AS (
    SELECT c.project_id, v.metric_key, c.grain, c.bucket, v.value, v.value_json
    FROM grouped c
    JOIN metrics_affected a ON a.project_id = c.project_id AND a.source = 'session' AND a.grain = c.grain AND a.bucket = c.bucket
      AND NOT a.from_days
    CROSS JOIN LATERAL (VALUES
        ${unpivot(metrics)}
    ) AS v(metric_key, value, value_json)
  )`;

const SESSION_TREND_FRESH = sessionTrendFresh('sessions s', SESSION_STATS_COMPONENTS, SESSION_METRICS);
/**
 * A run joins completed sessions to their metrics once, over the span of all affected session
 * buckets (`metrics_quality_span`, see findChanges): the trend (each pass of an incremental run) and
 * the drop-off breakdown read that instead of joining again (every join hashed all session-metrics
 * rows: 1.5–2 s each in a full rebuild of the bench's million sessions). Its rows stand in for `m`
 * (the metrics columns) and `s` (the session's project and start, all the statements read of it).
 */
const QUALITY_SPAN_FROM = `metrics_quality_span m CROSS JOIN LATERAL (SELECT m.span_project_id AS project_id, m.span_started_at AS started_at) s`;
const QUALITY_TREND_FRESH = sessionTrendFresh(QUALITY_SPAN_FROM, SESSION_METRICS_COMPONENTS, QUALITY_METRICS);

/** $4: the catalogue's KPI ids (the metric keys). */
const KPI_TREND_FRESH = (grains: readonly TimeGrain[], nested: boolean) => `
  grouped AS (
    SELECT k.project_id, k.kpi_id, ${setGrain(grains)} AS grain, ${setBucket(grains)} AS bucket, count(*)::int AS events
    FROM kpi_events k ${bucketMapJoin('kpi_event', 'k.project_id', 'k.occurred_at')}
    WHERE k.project_id = ANY($1::uuid[]) AND k.occurred_at >= $2::timestamptz AND k.occurred_at < $3::timestamptz AND k.kpi_id = ANY($4::text[])
    GROUP BY ${grainSets('k.project_id, k.kpi_id', grains, nested)}
  ),
  fresh AS (
    SELECT c.project_id, c.kpi_id AS metric_key, c.grain, c.bucket,
           ${measureValueSql(KPI_MEASURE)}::float8 AS value, ${measureComponentsJsonSql(KPI_MEASURE)} AS value_json
    FROM grouped c
    JOIN metrics_affected a ON a.project_id = c.project_id AND a.source = 'kpi_event' AND a.grain = c.grain AND a.bucket = c.bucket
      AND NOT a.from_days
  )`;

/**
 * The sources of the percentiles, each read as in its trend: the rows (`from`, sessions `s`) and
 * the percentile components over them, whose quantities' values each day bucket keeps (see
 * PercentileComponent).
 */
const PERCENTILE_SOURCES: readonly { from: string; percentiles: readonly PercentileComponent[] }[] = [
  { from: 'sessions s', percentiles: SESSION_STATS_PERCENTILES },
  { from: QUALITY_SPAN_FROM, percentiles: SESSION_METRICS_PERCENTILES },
];

function quantitiesOf(percentiles: readonly PercentileComponent[]): PercentileComponent[] {
  return [...new Map(percentiles.map((p) => [p.quantity, p])).values()];
}

/**
 * Each quantity's value of the row (its expression, as float8), one row per quantity:
 * `CROSS JOIN LATERAL (VALUES …) AS v(quantity, value)`.
 */
function quantityValuesSql(percentiles: readonly PercentileComponent[]): string {
  const values = quantitiesOf(percentiles).map((p) => `(${literal(p.quantity)}, (${p.expression})::float8)`);
  return `CROSS JOIN LATERAL (VALUES ${values.join(', ')}) AS v(quantity, value)`;
}

/**
 * The sorted values of `quantity` kept for each day bucket of project `projectId` starting in
 * [`from`, `to`), one run (`vals`) per day, as percentileOfSortedRunsSql takes them.
 */
function keptDayRunsSql(projectId: string, quantity: string, from: string, to: string): string {
  return `SELECT dv.sorted_values AS vals FROM metrics_day_values dv
      WHERE dv.project_id = ${projectId} AND dv.quantity = ${literal(quantity)} AND dv.time_bucket >= ${from} AND dv.time_bucket < ${to}`;
}

/**
 * The values of each quantity in each affected day bucket of the span ($1 project ids, [$2, $3)),
 * sorted (rows project_id, quantity, bucket, sorted_values); a day without a value of a quantity has
 * no row of it.
 */
function dayValuesSql(from: string, percentiles: readonly PercentileComponent[]): string {
  return `
  SELECT s.project_id, v.quantity, b.day_bucket AS bucket, array_agg(v.value ORDER BY v.value) AS sorted_values
  FROM ${from}
  ${bucketMapJoin('session', 's.project_id', 's.started_at')}
  ${quantityValuesSql(percentiles)}
  WHERE s.project_id = ANY($1::uuid[]) AND s.started_at >= $2::timestamptz AND s.started_at < $3::timestamptz AND b.day_affected
    AND v.value IS NOT NULL
  GROUP BY s.project_id, v.quantity, b.day_bucket`;
}

/**
 * The day points of each affected week and month bucket that is computed from its days
 * (`from_days`, see markBucketsFromDays): a CTE `days` of (project_id, grain, bucket, bucket_end,
 * metric_key, value_json). $1: the metric keys.
 */
const daysOfCoarseBuckets = (source: string) => `
  days AS (
    SELECT a.project_id, a.grain, a.bucket, a.bucket_end, t.metric_key, t.value_json
    FROM metrics_affected a
    JOIN metrics_trend_point t ON t.project_id = a.project_id AND t.time_grain = 'day' AND t.dimensions = '{}'::jsonb
      AND t.metric_key = ANY($1::text[]) AND t.time_bucket >= a.bucket AND t.time_bucket < a.bucket_end
    WHERE a.source = ${literal(source)} AND a.from_days
  )`;

/**
 * Trend of a week or month bucket of session metrics from its days: each additive component the
 * sum of the days' (as stored in their points' value_json: integers and exact sums, so the same
 * total as over the rows), each percentile from the days' values of its quantity; then the same
 * unpivot as from the rows. A CTE list ending in fresh, like sessionTrendFresh.
 */
function sessionTrendFromDays(metrics: MetricDefinition[], percentiles: readonly PercentileComponent[]): string {
  // each additive component once, from the first metric that stores it (e.g. `sessions`, the denominator of several rates)
  const stored = new Map<string, string>();
  for (const m of metrics) {
    for (const part of MEASURE_PARTS[m.measure.kind]) {
      if (m.measure.kind === 'percentile' && part === 'value') continue;
      const component = (m.measure as Record<string, string>)[part];
      if (!stored.has(component)) {
        stored.set(component, `sum((d.value_json->>${literal(part)})::numeric) FILTER (WHERE d.metric_key = ${literal(m.key)}) AS ${component}`);
      }
    }
  }
  return `${daysOfCoarseBuckets('session')},
  summed AS (
    SELECT d.project_id, d.grain, d.bucket, d.bucket_end, ${[...stored.values()].join(', ')}
    FROM days d GROUP BY d.project_id, d.grain, d.bucket, d.bucket_end
  ),
  grouped AS (
    SELECT c.*, ${percentiles.map((p, k) => `p${k}.value AS ${p.component}`).join(', ')}
    FROM summed c
    ${percentiles
      .map((p, k) => {
        const runs = `SELECT a.project_id, a.grain, a.bucket, r.vals FROM metrics_affected a
          CROSS JOIN LATERAL (${keptDayRunsSql('a.project_id', p.quantity, 'a.bucket', 'a.bucket_end')}) r
          WHERE a.source = 'session' AND a.from_days`;
        return `LEFT JOIN ${percentileOfSortedRunsSql(runs, ['project_id', 'grain', 'bucket'], p.fraction)} p${k}
      ON p${k}.project_id = c.project_id AND p${k}.grain = c.grain AND p${k}.bucket = c.bucket`;
      })
      .join('\n    ')}
  ),
  fresh AS (
    SELECT c.project_id, v.metric_key, c.grain, c.bucket, v.value, v.value_json
    FROM grouped c
    CROSS JOIN LATERAL (VALUES
        ${unpivot(metrics)}
    ) AS v(metric_key, value, value_json)
  )`;
}

/** The same for the KPI counts: each metric's events, the sum of its days'. $1: the KPI ids. */
const KPI_TREND_FROM_DAYS = `${daysOfCoarseBuckets('kpi_event')},
  grouped AS (
    SELECT d.project_id, d.metric_key, d.grain, d.bucket, sum((d.value_json->>'count')::numeric) AS events
    FROM days d GROUP BY d.project_id, d.metric_key, d.grain, d.bucket
  ),
  fresh AS (
    SELECT c.project_id, c.metric_key, c.grain, c.bucket,
           ${measureValueSql(KPI_MEASURE)}::float8 AS value, ${measureComponentsJsonSql(KPI_MEASURE)} AS value_json
    FROM grouped c
  )`;

/**
 * Breakdowns per day bucket: a CTE list ending in
 * fresh(project_id, metric_key, bucket, dimension_key, dimension_value, value, value_json).
 * Only additive metrics are broken down, so the groups need only the additive components, and
 * both dimensions are grouped in one pass over the rows (hashed grouping sets, one per dimension).
 */
const SESSION_BREAKDOWN_FRESH = `
  grouped AS (
    SELECT s.project_id, b.day_bucket AS bucket,
           CASE WHEN grouping(s.entry_page) = 0 THEN 'entry_page' ELSE 'exit_page' END AS dimension_key,
           CASE WHEN grouping(s.entry_page) = 0 THEN s.entry_page ELSE s.exit_page END AS dimension_value,
           ${SESSION_STATS_ADDITIVE_COMPONENTS}
    FROM sessions s ${bucketMapJoin('session', 's.project_id', 's.started_at')}
    WHERE s.project_id = ANY($1::uuid[]) AND s.started_at >= $2::timestamptz AND s.started_at < $3::timestamptz AND b.day_affected
    GROUP BY GROUPING SETS ((s.project_id, b.day_bucket, s.entry_page), (s.project_id, b.day_bucket, s.exit_page))
  ),
  fresh AS (
    SELECT c.project_id, v.metric_key, c.bucket, c.dimension_key, c.dimension_value, v.value, v.value_json
    FROM grouped c
    CROSS JOIN LATERAL (VALUES
        ${unpivot(SESSION_METRICS.filter((m) => m.breakdownDimensions.length > 0))}
    ) AS v(metric_key, value, value_json)
  )`;

/**
 * Drop-off by step: the sessions that dropped off at the step / all the bucket's sessions (the
 * steps' rates add up to the drop-off rate). The group of sessions that did not drop off (step
 * null, numerator 0) is stored too: it carries the bucket's total for buckets where no one dropped off.
 */
const DROP_OFF_BY_STEP: Measure = { kind: 'rate', numerator: 'dropped', denominator: 'bucket_sessions' };
const QUALITY_BREAKDOWN_FRESH = `
  grouped AS (
    SELECT s.project_id, b.day_bucket AS bucket, m.drop_off_step AS dimension_value, ${SESSION_METRICS_ADDITIVE_COMPONENTS}
    FROM ${QUALITY_SPAN_FROM}
    ${bucketMapJoin('session', 's.project_id', 's.started_at')}
    WHERE s.project_id = ANY($1::uuid[]) AND s.started_at >= $2::timestamptz AND s.started_at < $3::timestamptz AND b.day_affected
    GROUP BY s.project_id, b.day_bucket, m.drop_off_step
  ),
  fresh AS (
    SELECT c.project_id, 'drop_off_rate' AS metric_key, c.bucket, 'drop_off_step' AS dimension_key, c.dimension_value,
           ${measureValueSql(DROP_OFF_BY_STEP)} AS value, ${measureComponentsJsonSql(DROP_OFF_BY_STEP)} AS value_json
    FROM (SELECT g.*, sum(g.sessions) OVER (PARTITION BY g.project_id, g.bucket)::int AS bucket_sessions FROM grouped g) c
  )`;

const KPI_BREAKDOWN_FRESH = `
  grouped AS (
    SELECT k.project_id, k.kpi_id, b.day_bucket AS bucket, k.metadata->>'source' AS dimension_value, count(*)::int AS events
    FROM kpi_events k ${bucketMapJoin('kpi_event', 'k.project_id', 'k.occurred_at')}
    WHERE k.project_id = ANY($1::uuid[]) AND k.occurred_at >= $2::timestamptz AND k.occurred_at < $3::timestamptz AND k.kpi_id = ANY($4::text[])
      AND b.day_affected
    GROUP BY k.project_id, k.kpi_id, b.day_bucket, k.metadata->>'source'
  ),
  fresh AS (
    SELECT c.project_id, c.kpi_id AS metric_key, c.bucket, 'source' AS dimension_key, c.dimension_value,
           ${measureValueSql(KPI_MEASURE)}::float8 AS value, ${measureComponentsJsonSql(KPI_MEASURE)} AS value_json
    FROM grouped c
  )`;

/**
 * A session's drilldown row (sessions `s` with their metrics `m`, the bucket map `b`): its key,
 * bucket and payload. The drop-off is that of the session's metrics while it is completed: a late
 * event can make a measured session active again, and its stored metrics then describe the
 * session before that event (the session-metrics figures leave it out too, see sessionMetricsFrom).
 */
const SESSION_DRILLDOWN_ROW = `
    s.project_id, 'sessions' AS metric_key, 'session' AS entity_type, NULL::uuid AS entity_id, s.session_id AS reference_id,
    b.day_bucket AS bucket,
    jsonb_build_object(
      'startedAt', s.started_at, 'status', s.status, 'entryPage', s.entry_page, 'exitPage', s.exit_page,
      'durationSeconds', s.duration_seconds, 'pageCount', s.page_count, 'bounced', s.bounced, 'converted', s.converted,
      'hasMetrics', m.session_id IS NOT NULL AND s.status = 'completed',
      'droppedOff', CASE WHEN s.status = 'completed' THEN m.dropped_off END,
      'dropOffStep', CASE WHEN s.status = 'completed' THEN m.drop_off_step END) AS payload`;

/** A KPI event's drilldown row (events `k`, the bucket map `b`). */
const KPI_DRILLDOWN_ROW = `
    k.project_id, k.kpi_id AS metric_key, 'kpi_event' AS entity_type, k.id AS entity_id, NULL::text AS reference_id,
    b.day_bucket AS bucket,
    jsonb_build_object('userId', k.user_id, 'occurredAt', k.occurred_at, 'step', k.metadata->'step', 'source', k.metadata->'source') AS payload`;

/**
 * Drilldown rows of the affected day buckets starting at or after $5 (the drilldown retention
 * cutoff): a CTE list ending in fresh(project_id, metric_key, entity_type, entity_id, reference_id, bucket, payload).
 * $4: the metric keys. A full rebuild writes them all.
 */
const SESSION_DRILLDOWN_FRESH = `
  fresh AS (
    SELECT ${SESSION_DRILLDOWN_ROW}
    FROM sessions s ${bucketMapJoin('session', 's.project_id', 's.started_at')}
    LEFT JOIN session_metrics m ON m.project_id = s.project_id AND m.session_id = s.session_id
    WHERE s.project_id = ANY($1::uuid[]) AND s.started_at >= greatest($2::timestamptz, $5::timestamptz) AND s.started_at < $3::timestamptz
      AND b.day_affected AND b.day_bucket >= $5::timestamptz AND 'sessions' = ANY($4::text[])
  )`;

const KPI_DRILLDOWN_FRESH = `
  fresh AS (
    SELECT ${KPI_DRILLDOWN_ROW}
    FROM kpi_events k ${bucketMapJoin('kpi_event', 'k.project_id', 'k.occurred_at')}
    WHERE k.project_id = ANY($1::uuid[]) AND k.occurred_at >= greatest($2::timestamptz, $5::timestamptz) AND k.occurred_at < $3::timestamptz
      AND b.day_affected AND b.day_bucket >= $5::timestamptz AND k.kpi_id = ANY($4::text[])
  )`;

/**
 * The current drilldown rows of the changed source rows (incremental run; the rows findChangesSql
 * kept), whose day bucket starts at or after $2 (the cutoff); $1: the metric keys. A drilldown row is made
 * of its own entity's columns only (all in COUNTED_COLUMNS) and bucketed by its own instant, so the
 * rows of the entities that did not change are already what a recompute of their bucket would give.
 * The kept rows have no statistics, so their metrics are looked up by key whatever the planner guesses.
 */
const CHANGED_DRILLDOWN_ROWS_SQL = `
  SELECT ${SESSION_DRILLDOWN_ROW}
  FROM metrics_changed_sessions s
  ${bucketMapJoin('session', 's.project_id', 's.started_at')}
  LEFT JOIN LATERAL (${lookUpByKey('session_metrics m', 'm.project_id = s.project_id AND m.session_id = s.session_id')}) m ON true
  WHERE b.day_bucket >= $2::timestamptz AND 'sessions' = ANY($1::text[])
  UNION ALL
  SELECT ${KPI_DRILLDOWN_ROW}
  FROM metrics_changed_kpi_events k
  ${bucketMapJoin('kpi_event', 'k.project_id', 'k.occurred_at')}
  WHERE b.day_bucket >= $2::timestamptz AND k.kpi_id = ANY($1::text[])`;

/** The temporary tables of the compute transactions, by name: their columns and keys. */
const WORK_TABLES = {
  metrics_changed: `project_id uuid NOT NULL, source text NOT NULL, entity_key text NOT NULL, new_at timestamptz`,
  metrics_changed_sessions: `LIKE sessions`,
  metrics_changed_kpi_events: `LIKE kpi_events`,
  metrics_affected: `
    project_id uuid NOT NULL, source text NOT NULL, grain metrics_time_grain NOT NULL,
    bucket timestamptz NOT NULL, bucket_end timestamptz NOT NULL,
    from_days boolean NOT NULL DEFAULT false,
    PRIMARY KEY (project_id, source, grain, bucket)`,
  metrics_bucket_map: `
    project_id uuid NOT NULL, source text NOT NULL, q timestamptz NOT NULL,
    hour_bucket timestamptz NOT NULL, day_bucket timestamptz NOT NULL, week_bucket timestamptz NOT NULL, month_bucket timestamptz NOT NULL,
    day_affected boolean NOT NULL,
    PRIMARY KEY (project_id, source, q)`,
  metrics_fresh_trend: `
    project_id uuid NOT NULL, metric_key text NOT NULL, grain metrics_time_grain NOT NULL, bucket timestamptz NOT NULL,
    value float8, value_json jsonb NOT NULL`,
  metrics_fresh_day_values: `project_id uuid NOT NULL, quantity text NOT NULL, bucket timestamptz NOT NULL, sorted_values float8[] NOT NULL`,
  metrics_fresh_breakdown: `
    project_id uuid NOT NULL, metric_key text NOT NULL, bucket timestamptz NOT NULL, dimension_key text NOT NULL, dimension_value text,
    value float8, value_json jsonb NOT NULL`,
  metrics_fresh_drilldown: `
    project_id uuid NOT NULL, metric_key text NOT NULL, entity_type text NOT NULL, entity_id uuid, reference_id text,
    bucket timestamptz NOT NULL, payload jsonb NOT NULL`,
} as const;

type WorkTable = keyof typeof WORK_TABLES;

/**
 * The longest span of affected sessions whose metrics an incremental run looks up by key, one index
 * probe per session (sessionMetricsFrom with byKey), rather than by joining all of session_metrics
 * to them, which reads the whole table. On the bench (1,000,000 sessions over 90 days, their
 * metrics scattered over the table), for the last day's 21,000 sessions: 82–114 ms by key against
 * 140–175 ms joined (a parallel scan of all 1,010,000 rows, whose two workers also took the cores
 * the drilldown's transaction runs on); over 8 days, 301 ms by key against 367 ms joined (one
 * process); over 30 days, 1.07 s by key against 0.69 s joined. A full rebuild always joins.
 */
const QUALITY_SPAN_BY_KEY_MAX_MS = 7 * 24 * 60 * 60 * 1000;

/** Where a run's changes and affected buckets are found: both transactions. */
const CHANGE_TABLES: WorkTable[] = ['metrics_changed', 'metrics_affected', 'metrics_bucket_map'];

/**
 * How long a full rebuild waits for any lock before it gives up: for the drilldown's readers (a
 * backup, a long query) at its TRUNCATE, as drilldown reads arriving meanwhile queue behind it; and
 * for anything else while its drilldown is written alongside (see `alongside`: a cycle through that
 * wait is no deadlock PostgreSQL can see). The run then fails with the lock timeout and changes
 * nothing (both transactions roll back).
 */
const REBUILD_LOCK_TIMEOUT_MS = 5_000;

/** work_mem and maintenance_work_mem of the compute transaction (see MetricsReadModelRepository.transaction). */
const COMPUTE_MEMORY = '256MB';

/** The quarter hours from 75 minutes before an instant's to 75 minutes after (offsets in quarters). */
const QUARTERS_AROUND = Array.from({ length: 11 }, (_, i) => `(${i - 5})`).join(', ');

/** Which buckets of a run's bucket map nest in which (see MetricsReadModelRepository.bucketNesting). */
interface BucketNesting {
  hoursInDays: boolean;
  daysInWeeks: boolean;
  daysInMonths: boolean;
}

/** An hour bucket of a project's calendar: its start, and the range of the instants it holds. */
interface HourBucket {
  bucket: Date;
  firstQuarter: Date;
  end: Date;
}

export interface WriteCounts {
  upserted: number;
  deleted: number;
}

/**
 * The instant from which every day bucket's points and kept values are there: the cutoff the
 * retention last applied to them (null after a full rebuild: all of them). Day buckets starting at
 * or after it are complete.
 */
const DAYS_COMPLETE_FROM_SQL = `(SELECT days_complete_from FROM metrics_compute_state WHERE id = 1)`;

type Span = [projectIds: string[], from: Date, to: Date];

const TREND_COLUMNS = 'project_id, metric_key, grain, bucket, value, value_json';

/**
 * The grains an incremental run groups together in one pass over their span: an affected hour
 * lies in an affected day (both hold the changed instant), so the day's span serves both.
 */
const INCREMENTAL_PASSES: readonly (readonly TimeGrain[])[] = [['hour', 'day'], ['week'], ['month']];

/**
 * What a full rebuild writes of a derived table (see insertAll): the fresh rows of `source`'s
 * affected buckets of `grains` (a CTE list `ctes` ending in `fresh`, with `columns`; `freshParams`
 * from the source's span of those grains) and how they are inserted.
 */
interface FullWritePart {
  source: string;
  grains: readonly TimeGrain[];
  columns: string;
  ctes: (grains: readonly TimeGrain[]) => string;
  freshParams: (span: Span) => unknown[];
  /** The INSERT … SELECT reading the relation `rows`; `at` is the compute instant's parameter. */
  insert: (rows: string, at: string) => string;
}

/**
 * One part of a derived table's recompute (see writePart): a FullWritePart, plus for an
 * incremental run the temporary table of its fresh rows, how they are upserted, and how the rows
 * of affected buckets that have no fresh row any more are deleted.
 */
interface WritePart extends FullWritePart {
  table: string;
  onConflict: string;
  deleteGone: string;
  deleteParams: unknown[];
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
  /** Each compute transaction's bucket nesting, asked once (see bucketNesting); gone with the transaction's manager. */
  private readonly nestingOf = new WeakMap<Db, BucketNesting>();

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * The compute works on one consistent snapshot of all sources. Its statements sort and hash whole
   * sources (a full rebuild of 1M sessions: a 90 MB hash of their metrics, 150 MB sorts of the
   * grouped rows), which spilled to disk under the server's default memory per operation: the job
   * (one run at a time) gets more, for this transaction only. JIT compilation is off for it: the
   * planner's cost of a statement over a whole source is far above jit_above_cost whatever it
   * reads, and compiling took 0.66 s of the 2 s statement finding a full rebuild's buckets and
   * 0.27 s of the summary's 0.76 s, with no statement measurably faster for it (the bench's steps,
   * alternated with and without). SET LOCAL takes no snapshot, so the first statement of `begin`
   * still takes the transaction's.
   *
   * A run is two transactions on that snapshot (see `alongside`): `begin` plans them in the first.
   * The second writes the drilldown (writeDrilldownAndConsume) and, as it commits last, consumes the
   * change log: if its commit fails after the first's, the log rows stay and the next run counts
   * their changes again, which rewrites the same buckets and rows. Meanwhile no lock wait of either
   * lasts more than REBUILD_LOCK_TIMEOUT_MS. The first never waits for the second's locks: it never
   * touches metrics_drilldown, and only reads the tables the second also writes (the change log,
   * metrics_compute_state).
   */
  computeAlongside<A, B>(begin: (tx: Db) => Promise<AlongsidePlan<A, B>>): Promise<[A, B]> {
    return alongside(this.db, { lockTimeoutMs: REBUILD_LOCK_TIMEOUT_MS }, async (tx) => {
      await this.configure(tx);
      return begin(tx);
    });
  }

  private async configure(tx: Db): Promise<void> {
    await execute(tx, `SET LOCAL work_mem = '${COMPUTE_MEMORY}'`);
    await execute(tx, `SET LOCAL maintenance_work_mem = '${COMPUTE_MEMORY}'`);
    await execute(tx, `SET LOCAL jit = off`);
  }

  /** Whether the read model was last rebuilt in full under another definition (or never). */
  async definitionChanged(tx: Db): Promise<boolean> {
    const row = await queryOne<{ definition: string }>(tx, `SELECT definition FROM metrics_compute_state WHERE id = 1`);
    return row?.definition !== READ_MODEL_DEFINITION;
  }

  /** Records the definition a full rebuild has just counted everything under, and that it wrote every day point and day value. */
  private async saveDefinition(tx: Db, now: Date): Promise<void> {
    await execute(
      tx,
      `INSERT INTO metrics_compute_state (id, definition, updated_at, days_complete_from) VALUES (1, $1, $2, NULL)
       ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at, days_complete_from = NULL`,
      [READ_MODEL_DEFINITION, now],
    );
  }

  /**
   * A full rebuild starts from nothing: the trend and breakdown points go here, and the drilldown
   * rows when they are written again (see writeDrilldownAndConsume), so that table is locked only then.
   */
  async clearAll(tx: Db): Promise<void> {
    await execute(tx, `DELETE FROM metrics_trend_point`);
    await execute(tx, `DELETE FROM metrics_breakdown_point`);
    await execute(tx, `DELETE FROM metrics_day_values`);
  }

  /**
   * Finds the changed source rows, their affected buckets and the bucket map of those buckets'
   * quarter hours (temporary tables of this transaction). After `clearAll` (a full rebuild)
   * nothing was counted: every source row is changed, and the buckets are found from all of them.
   */
  async findChanges(tx: Db, full: boolean): Promise<{ sessions: number; kpiEvents: number; buckets: number }> {
    await this.createWorkTables(tx, [...CHANGE_TABLES, 'metrics_fresh_trend', 'metrics_fresh_day_values', 'metrics_fresh_breakdown']);
    let counted: { sessions: number; kpiEvents: number } | undefined;
    if (full) {
      counted = await queryOne<{ sessions: number; kpiEvents: number }>(
        tx,
        `SELECT (SELECT count(*) FROM sessions)::int AS sessions, (SELECT count(*) FROM kpi_events WHERE kpi_id = ANY($1::text[]))::int AS "kpiEvents"`,
        [KPI_METRIC_KEYS],
      );
      await execute(tx, findAffectedSql(INSTANTS_SINCE_SQL), [TIME_GRAINS, KPI_METRIC_KEYS, '-infinity']);
    } else {
      await this.findChangedBuckets(tx, TIME_GRAINS);
    }
    await this.mapAffectedBuckets(tx);
    await this.markBucketsFromDays(tx, full);
    // the affected session buckets' completed sessions with their metrics (QUALITY_SPAN_FROM):
    // only the columns the components and the drop-off breakdown read (one that read another
    // would fail here, not go wrong); statistics only of those the passes filter and group by
    const span = await this.affectedSpan(tx, 'session', TIME_GRAINS);
    const byKey = !full && span !== null && span[2].getTime() - span[1].getTime() <= QUALITY_SPAN_BY_KEY_MAX_MS;
    await execute(
      tx,
      `CREATE TEMP TABLE metrics_quality_span ON COMMIT DROP AS
       SELECT s.project_id AS span_project_id, s.started_at AS span_started_at, m.time_to_first_draft_ms, m.completion_rate,
              m.confirmation_rate, m.signal_density, m.dropped_off, m.drop_off_step
       FROM ${sessionMetricsFrom('sessions', byKey)}
       WHERE s.project_id = ANY($1::uuid[]) AND s.started_at >= $2::timestamptz AND s.started_at < $3::timestamptz`,
      span ?? [[], null, null],
    );
    await execute(tx, `ANALYZE metrics_quality_span (span_project_id, span_started_at, drop_off_step)`);
    const row = await queryOne<{ sessions: number; kpiEvents: number; buckets: number }>(
      tx,
      `SELECT (SELECT count(*) FROM metrics_changed WHERE source = 'session')::int AS sessions,
              (SELECT count(*) FROM metrics_changed WHERE source = 'kpi_event')::int AS "kpiEvents",
              (SELECT count(*) FROM metrics_affected)::int AS buckets`,
    );
    return { ...row!, ...counted };
  }

  /**
   * An incremental run's changed source rows (metrics_changed) named by the log rows of this
   * snapshot, and their affected buckets of `grains` (metrics_affected). Each transaction of a run
   * finds them itself, from the same rows: the log table is read where it is (a copy and its
   * analysis had cost the first 0.05 s of the bench's 0.5 s), and only the second deletes them
   * (consumeChangeLog).
   */
  private async findChangedBuckets(tx: Db, grains: readonly TimeGrain[], keepRows = false): Promise<void> {
    await execute(tx, findChangesSql(keepRows), [KPI_METRIC_KEYS]);
    // planned on its true size: the affected instants read it, and the drilldown's deletions join
    // on its keys (guessed at 36 session rows for 10,000, a join of it to the bucket map had looked
    // each session up once per quarter hour: 1.8 s)
    await execute(tx, `ANALYZE metrics_changed`);
    await execute(tx, findAffectedSql(CHANGED_INSTANTS_SQL), [grains]);
  }

  /**
   * Consumes the log rows this snapshot sees (a full rebuild has counted their rows anyway): rows of
   * writers that commit later stay for the next run, with the changes they name. Only in the
   * transaction that commits last (see computeAlongside). On the bench, deleting the 2.1 million
   * rows its load had logged was 1.0 s of a full rebuild's critical path.
   */
  private async consumeChangeLog(tx: Db): Promise<void> {
    await execute(tx, `DELETE FROM metrics_source_change`);
  }

  /**
   * Creates the temporary tables `tables` of a compute transaction (dropped at its commit), in one
   * round trip: each transaction creates only those it uses.
   */
  private async createWorkTables(tx: Db, tables: readonly WorkTable[]): Promise<void> {
    await execute(tx, tables.map((table) => `CREATE TEMP TABLE ${table} (${WORK_TABLES[table]}) ON COMMIT DROP`).join(';\n'));
  }

  /** Maps the quarter hours of the affected buckets (metrics_affected) to their buckets of every grain (metrics_bucket_map). */
  private async mapAffectedBuckets(tx: Db): Promise<void> {
    await execute(tx, `ANALYZE metrics_affected`);
    await execute(tx, BUILD_BUCKET_MAP_SQL);
    await execute(tx, `ANALYZE metrics_bucket_map`);
  }

  /**
   * The span of a source's affected buckets of `grains` that are computed from their rows (not
   * from their days, see markBucketsFromDays): its projects and [from, to). Passed as
   * parameters so the planner sees how many rows the span holds (a scan of the table for a full
   * rebuild, an index range for a few buckets). Null when nothing of the source changed.
   */
  private async affectedSpan(tx: Db, source: string, grains: readonly TimeGrain[]): Promise<Span | null> {
    const row = await queryOne<{ projects: string[] | null; from: Date | null; to: Date | null }>(
      tx,
      `SELECT array_agg(DISTINCT project_id) AS projects, min(bucket) AS "from", max(bucket_end) AS "to" FROM metrics_affected
       WHERE source = $1 AND grain = ANY($2::metrics_time_grain[]) AND NOT from_days`,
      [source, grains],
    );
    return row?.projects && row.from && row.to ? [row.projects, row.from, row.to] : null;
  }

  /**
   * Which buckets of the bucket map lie wholly in one bucket of a coarser grain: every hour bucket
   * in one day bucket, every day bucket in one week and in one month. True of every zone whose
   * offsets change at hour boundaries away from midnight; checked rather than assumed, so a zone
   * where it does not hold is grouped per grain (see grainSets) and its weeks and months are
   * computed from their rows (see markBucketsFromDays).
   */
  private async bucketNesting(tx: Db): Promise<BucketNesting> {
    // the bucket map is written once per transaction, before the first question (see findChanges)
    const known = this.nestingOf.get(tx);
    if (known) return known;
    const row = await queryOne<BucketNesting>(
      tx,
      `SELECT NOT EXISTS (SELECT FROM metrics_bucket_map GROUP BY project_id, source, hour_bucket HAVING count(DISTINCT day_bucket) > 1) AS "hoursInDays",
              NOT EXISTS (SELECT FROM metrics_bucket_map GROUP BY project_id, source, day_bucket HAVING count(DISTINCT week_bucket) > 1) AS "daysInWeeks",
              NOT EXISTS (SELECT FROM metrics_bucket_map GROUP BY project_id, source, day_bucket HAVING count(DISTINCT month_bucket) > 1) AS "daysInMonths"`,
    );
    this.nestingOf.set(tx, row!);
    return row!;
  }

  /**
   * Marks the affected week and month buckets computed from their days (`from_days`): the day
   * points hold their additive components and metrics_day_values their percentiles' values, so
   * their rows are not read (or sorted) again. Only where every day bucket of the run lies in one
   * week and one month (see bucketNesting).
   * - An incremental run: the weeks and months, where the bucket starts after the retention cutoff
   *   last applied to the day points and values (`days_complete_from`), so that none of its days is
   *   missing. A change in the last day otherwise read the whole month: its sessions and their
   *   metrics joined, a third of the bench's run.
   * - A full rebuild writes every day first, so its weeks: they are the one grain grouped apart from
   *   the others (hours, days and months are one sort of the rows, see grainSets), so every row was
   *   sorted once more for them. Its months stay in that sort.
   * Elsewhere a bucket is computed from its rows.
   */
  private async markBucketsFromDays(tx: Db, full: boolean): Promise<void> {
    const { daysInWeeks, daysInMonths } = await this.bucketNesting(tx);
    if (full) {
      if (daysInWeeks) await execute(tx, `UPDATE metrics_affected SET from_days = true WHERE grain = 'week'`);
      return;
    }
    if (!daysInWeeks || !daysInMonths) return;
    await execute(
      tx,
      `UPDATE metrics_affected SET from_days = true
       WHERE grain IN ('week', 'month') AND (${DAYS_COMPLETE_FROM_SQL} IS NULL OR bucket >= ${DAYS_COMPLETE_FROM_SQL})`,
    );
  }

  /**
   * Every customer project, in id order: each compute run snapshots a summary of each (issue 8: one
   * per project and run). Not the system project, which holds the service's own operational
   * metrics, no sessions or KPI events, and which the API never serves.
   */
  async allProjects(tx: Db): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(tx, `SELECT id FROM projects WHERE id <> $1 ORDER BY id`, [SYSTEM_PROJECT_ID]);
    return rows.map((r) => r.id);
  }

  /**
   * Writes one part's fresh rows. Full rebuild: after `clearAll` the table holds none of them, so
   * they are inserted straight from one query grouping every grain in one pass over the sources.
   * Incremental run: one query per pass of INCREMENTAL_PASSES, each reading only the span of its
   * grains' affected buckets — a change in the last day recomputes its month bucket from the
   * month's rows, but its hour and day buckets from that day's rows, not the month's (percentiles
   * sort every group's rows). The rows go to the temporary table `table` first, analyzed, so the write is planned on
   * their true size (the planner cannot estimate how many rows the grouping of affected buckets
   * gives, and a one-row guess made the anti-join of the deletes quadratic); then one statement
   * upserts them (`insert` + `onConflict`, touching only rows whose value changed) and deletes the
   * rows of affected buckets that have no fresh row (`deleteGone`, parameters from $2:
   * `deleteParams`; $1 is the compute instant).
   */
  private async writePart(tx: Db, full: boolean, now: Date, part: WritePart): Promise<WriteCounts> {
    if (full) return this.insertAll(tx, now, part);
    await execute(tx, `TRUNCATE ${part.table}`);
    let any = false;
    for (const grains of INCREMENTAL_PASSES.map((pass) => pass.filter((g) => part.grains.includes(g))).filter((pass) => pass.length > 0)) {
      const span = await this.affectedSpan(tx, part.source, grains);
      if (!span) continue;
      any = true;
      await execute(
        tx,
        `INSERT INTO ${part.table} (${part.columns}) WITH ${part.ctes(grains)} SELECT ${part.columns} FROM fresh`,
        part.freshParams(span),
      );
    }
    if (!any) return { upserted: 0, deleted: 0 };
    return this.applyFresh(tx, now, part);
  }

  /** Upserts the fresh rows of `part.table` and deletes the rows of affected buckets that have none (see writePart). */
  private async applyFresh(
    tx: Db,
    now: Date,
    part: Pick<WritePart, 'table' | 'insert' | 'onConflict' | 'deleteGone' | 'deleteParams'>,
  ): Promise<WriteCounts> {
    await execute(tx, `ANALYZE ${part.table}`);
    const row = await queryOne<WriteCounts>(
      tx,
      `WITH upserted AS (${part.insert(part.table, '$1')} ${part.onConflict} RETURNING 1),
       deleted AS (${part.deleteGone} RETURNING 1)
       SELECT (SELECT count(*) FROM upserted)::int AS upserted, (SELECT count(*) FROM deleted)::int AS deleted`,
      [now, ...part.deleteParams],
    );
    return row!;
  }

  /** A full rebuild's write of a part: its fresh rows inserted straight from one query (the table was emptied). */
  private async insertAll(tx: Db, now: Date, part: FullWritePart): Promise<WriteCounts> {
    const span = await this.affectedSpan(tx, part.source, part.grains);
    if (!span) return { upserted: 0, deleted: 0 };
    const freshParams = part.freshParams(span);
    const fresh = `WITH ${part.ctes(part.grains)} SELECT ${part.columns} FROM fresh`;
    const upserted = await execute(tx, part.insert(`(${fresh}) AS fresh`, `$${freshParams.length + 1}`), [...freshParams, now]);
    return { upserted, deleted: 0 };
  }

  /** Writes each part with `write`, one after the other (a part whose source has no affected bucket writes nothing); sums the counts. */
  private async sumParts<P>(parts: P[], write: (part: P) => Promise<WriteCounts>): Promise<WriteCounts> {
    const total: WriteCounts = { upserted: 0, deleted: 0 };
    for (const part of parts) {
      const counts = await write(part);
      total.upserted += counts.upserted;
      total.deleted += counts.deleted;
    }
    return total;
  }

  private writeParts(tx: Db, full: boolean, now: Date, parts: WritePart[]): Promise<WriteCounts> {
    return this.sumParts(parts, (part) => this.writePart(tx, full, now, part));
  }

  /**
   * Recomputes every affected bucket's trend points from all of its source rows: upserts the
   * fresh rows (touching only those whose value changed) and deletes the points of affected
   * buckets that have no data any more. The day values come first, from the rows of the affected
   * days; then the buckets computed from their rows; then the week and month buckets computed from
   * their days (see markBucketsFromDays), whose day points are up to date by then.
   */
  async recomputeTrend(tx: Db, now: Date, full: boolean): Promise<WriteCounts & { dayValues: WriteCounts }> {
    const dayValues = await this.writeDayValues(tx, now, full);
    const { hoursInDays, daysInMonths } = await this.bucketNesting(tx);
    const nested = hoursInDays && daysInMonths;
    // each part's fresh rows from its rows (a CTE list per grains) and from its days (a CTE list; $1 the metric keys)
    const parts = [
      {
        source: 'session',
        fromRows: SESSION_TREND_FRESH,
        fromDays: sessionTrendFromDays(SESSION_METRICS, SESSION_STATS_PERCENTILES),
        metricKeys: SESSION_METRICS.map((m) => m.key),
      },
      {
        source: 'session',
        fromRows: QUALITY_TREND_FRESH,
        fromDays: sessionTrendFromDays(QUALITY_METRICS, SESSION_METRICS_PERCENTILES),
        metricKeys: QUALITY_METRICS.map((m) => m.key),
      },
      { source: 'kpi_event', fromRows: KPI_TREND_FRESH, fromDays: KPI_TREND_FROM_DAYS, metricKeys: KPI_METRIC_KEYS },
    ];
    // how a part's fresh rows (in metrics_fresh_trend) are written, for the buckets computed from their rows or from their days
    const write = (source: string, metricKeys: string[], fromDays: boolean) => ({
      table: 'metrics_fresh_trend',
      insert: (rows: string, at: string) => `
        INSERT INTO metrics_trend_point AS t (project_id, metric_key, time_grain, time_bucket, dimensions, value_numeric, value_json, computed_at)
        SELECT project_id, metric_key, grain, bucket, '{}'::jsonb, value, value_json, ${at} FROM ${rows}`,
      onConflict: `
        ON CONFLICT ON CONSTRAINT metrics_trend_point_key DO UPDATE
          SET value_numeric = excluded.value_numeric, value_json = excluded.value_json, computed_at = excluded.computed_at
          WHERE (t.value_numeric, t.value_json) IS DISTINCT FROM (excluded.value_numeric, excluded.value_json)`,
      deleteGone: `
        DELETE FROM metrics_trend_point t USING metrics_affected a
        WHERE a.source = $2 AND t.project_id = a.project_id AND t.time_grain = a.grain AND t.time_bucket = a.bucket AND a.from_days = $4
          AND t.metric_key = ANY($3::text[])
          AND NOT EXISTS (SELECT 1 FROM metrics_fresh_trend f WHERE f.project_id = t.project_id AND f.metric_key = t.metric_key
                                                                AND f.grain = t.time_grain AND f.bucket = t.time_bucket)`,
      deleteParams: [source, metricKeys, fromDays],
    });
    const fromDaysSources = (await queryRows<{ source: string }>(tx, `SELECT DISTINCT source FROM metrics_affected WHERE from_days`)).map(
      (r) => r.source,
    );
    const fromRows = await this.writeParts(
      tx,
      full,
      now,
      parts.map((p): WritePart => ({
        ...write(p.source, p.metricKeys, false),
        source: p.source,
        // a full rebuild groups no week of the rows where its weeks come from their days (an incremental run's passes skip them)
        grains: full && fromDaysSources.includes(p.source) ? TIME_GRAINS.filter((g) => g !== 'week') : TIME_GRAINS,
        columns: TREND_COLUMNS,
        ctes: (grains) => p.fromRows(grains, nested),
        freshParams: (span) => (p.source === 'kpi_event' ? [...span, p.metricKeys] : span),
      })),
    );
    const fromDays = await this.sumParts(
      parts.filter((p) => fromDaysSources.includes(p.source)),
      async (p) => {
        await execute(tx, `TRUNCATE metrics_fresh_trend`);
        await execute(tx, `INSERT INTO metrics_fresh_trend (${TREND_COLUMNS}) WITH ${p.fromDays} SELECT ${TREND_COLUMNS} FROM fresh`, [p.metricKeys]);
        return this.applyFresh(tx, now, write(p.source, p.metricKeys, true));
      },
    );
    return { upserted: fromRows.upserted + fromDays.upserted, deleted: fromRows.deleted + fromDays.deleted, dayValues };
  }

  /**
   * Writes the values of each percentile's quantity of every affected day bucket (see
   * PercentileComponent), from the day's rows: upserted where they changed, deleted where the day
   * has none any more. A full rebuild inserts those of every day.
   */
  private async writeDayValues(tx: Db, now: Date, full: boolean): Promise<WriteCounts> {
    const span = await this.affectedSpan(tx, 'session', ['day']);
    if (!span) return { upserted: 0, deleted: 0 };
    if (full) {
      let upserted = 0;
      for (const source of PERCENTILE_SOURCES) {
        upserted += await execute(
          tx,
          `INSERT INTO metrics_day_values (project_id, quantity, time_bucket, sorted_values, computed_at)
           SELECT project_id, quantity, bucket, sorted_values, $4 FROM (${dayValuesSql(source.from, source.percentiles)}) AS fresh`,
          [...span, now],
        );
      }
      return { upserted, deleted: 0 };
    }
    await execute(tx, `TRUNCATE metrics_fresh_day_values`);
    for (const source of PERCENTILE_SOURCES) {
      await execute(
        tx,
        `INSERT INTO metrics_fresh_day_values (project_id, quantity, bucket, sorted_values) ${dayValuesSql(source.from, source.percentiles)}`,
        span,
      );
    }
    return this.applyFresh(tx, now, {
      table: 'metrics_fresh_day_values',
      insert: (rows, at) => `
        INSERT INTO metrics_day_values AS t (project_id, quantity, time_bucket, sorted_values, computed_at)
        SELECT project_id, quantity, bucket, sorted_values, ${at} FROM ${rows}`,
      onConflict: `
        ON CONFLICT (project_id, quantity, time_bucket) DO UPDATE SET sorted_values = excluded.sorted_values, computed_at = excluded.computed_at
          WHERE t.sorted_values IS DISTINCT FROM excluded.sorted_values`,
      deleteGone: `
        DELETE FROM metrics_day_values t USING metrics_affected a
        WHERE a.source = 'session' AND a.grain = 'day' AND t.project_id = a.project_id AND t.time_bucket = a.bucket
          AND NOT EXISTS (SELECT 1 FROM metrics_fresh_day_values f WHERE f.project_id = t.project_id AND f.quantity = t.quantity AND f.bucket = t.time_bucket)`,
      deleteParams: [],
    });
  }

  /** The same for the day-bucket breakdowns: sessions by entry/exit page, drop-off by step, KPI events by source. */
  async recomputeBreakdown(tx: Db, now: Date, full: boolean): Promise<WriteCounts> {
    const parts: [string, string, string[], string[]][] = [
      [
        'session',
        SESSION_BREAKDOWN_FRESH,
        SESSION_METRICS.filter((m) => m.breakdownDimensions.length).map((m) => m.key),
        ['entry_page', 'exit_page'],
      ],
      ['session', QUALITY_BREAKDOWN_FRESH, ['drop_off_rate'], ['drop_off_step']],
      ['kpi_event', KPI_BREAKDOWN_FRESH, KPI_METRIC_KEYS, ['source']],
    ];
    // the dimension value compared as (is null, value or '') so the anti-join can hash
    return this.writeParts(
      tx,
      full,
      now,
      parts.map(([source, fresh, metricKeys, dimensions]) => ({
        source,
        grains: ['day'],
        table: 'metrics_fresh_breakdown',
        columns: 'project_id, metric_key, bucket, dimension_key, dimension_value, value, value_json',
        ctes: () => fresh,
        freshParams: (span) => (source === 'kpi_event' ? [...span, metricKeys] : span),
        insert: (rows, at) => `
          INSERT INTO metrics_breakdown_point AS t (project_id, metric_key, time_grain, time_bucket, dimension_key, dimension_value,
                                                    value_numeric, value_json, computed_at)
          SELECT project_id, metric_key, 'day', bucket, dimension_key, dimension_value, value, value_json, ${at} FROM ${rows}`,
        onConflict: `
          ON CONFLICT ON CONSTRAINT metrics_breakdown_point_key DO UPDATE
            SET value_numeric = excluded.value_numeric, value_json = excluded.value_json, computed_at = excluded.computed_at
            WHERE (t.value_numeric, t.value_json) IS DISTINCT FROM (excluded.value_numeric, excluded.value_json)`,
        deleteGone: `
          DELETE FROM metrics_breakdown_point t USING metrics_affected a
          WHERE a.source = $2 AND a.grain = 'day' AND t.project_id = a.project_id AND t.time_grain = 'day' AND t.time_bucket = a.bucket
            AND t.metric_key = ANY($3::text[]) AND t.dimension_key = ANY($4::text[])
            AND NOT EXISTS (SELECT 1 FROM metrics_fresh_breakdown f
                            WHERE f.project_id = t.project_id AND f.metric_key = t.metric_key AND f.bucket = t.time_bucket
                              AND f.dimension_key = t.dimension_key AND (f.dimension_value IS NULL) = (t.dimension_value IS NULL)
                              AND coalesce(f.dimension_value, '') = coalesce(t.dimension_value, ''))`,
        deleteParams: [source, metricKeys, dimensions],
      })),
    );
  }

  /**
   * The second transaction of a run (see computeAlongside): the drilldown, written while the rest of
   * the run goes on in the first, from the same source rows and log rows, by a second server
   * process. Then it consumes the change log, and after a full rebuild records the definition
   * the run counted everything under (both commit last).
   *
   * - A full rebuild (`full`): a row per session and KPI event whose day bucket is not older than
   *   `cutoff` (retention would drop the others at once). The second transaction finds its own day
   *   buckets (those holding a row from the cutoff on) and refills the table with its indexes built
   *   after the insert (384,000 rows on the bench, inserted row by row into its five indexes: 7.3 s
   *   foreign key aside, against 3.4 s into the bare table; see refillWithIndexesBuiltAfter). A third
   *   of the rebuild (5.2 s of 13.3 s on the bench) left its critical path. Drilldown reads wait
   *   for the rebuild's commit from the refill's start on.
   * - An incremental run: the rows of the changed entities (recomputeChangedDrilldown), which this
   *   transaction finds itself. 0.37 s of the bench's 0.89 s run (10,000 new rows, each into five
   *   indexes) left its critical path.
   */
  async writeDrilldownAndConsume(sibling: Db, now: Date, cutoff: Date, full: boolean): Promise<WriteCounts> {
    await this.configure(sibling);
    const keptRows: WorkTable[] = full ? [] : ['metrics_changed_sessions', 'metrics_changed_kpi_events'];
    await this.createWorkTables(sibling, [...CHANGE_TABLES, ...keptRows, 'metrics_fresh_drilldown']);
    let written: WriteCounts;
    if (full) {
      await execute(sibling, findAffectedSql(INSTANTS_SINCE_SQL), [['day'], KPI_METRIC_KEYS, cutoff]);
      await this.mapAffectedBuckets(sibling);
      written = await refillWithIndexesBuiltAfter(sibling, 'metrics_drilldown', REBUILD_LOCK_TIMEOUT_MS, () =>
        this.insertAllDrilldown(sibling, now, cutoff),
      );
    } else {
      await this.findChangedBuckets(sibling, ['day'], true);
      await this.mapAffectedBuckets(sibling);
      written = await this.recomputeChangedDrilldown(sibling, now, cutoff);
    }
    await this.consumeChangeLog(sibling);
    if (full) await this.saveDefinition(sibling, now);
    return written;
  }

  private insertAllDrilldown(tx: Db, now: Date, cutoff: Date): Promise<WriteCounts> {
    const parts: [string, string, string[]][] = [
      ['session', SESSION_DRILLDOWN_FRESH, ['sessions']],
      ['kpi_event', KPI_DRILLDOWN_FRESH, KPI_METRIC_KEYS],
    ];
    return this.sumParts(
      parts.map(([source, fresh, metricKeys]): FullWritePart => ({
        source,
        grains: ['day'],
        columns: 'project_id, metric_key, entity_type, entity_id, reference_id, bucket, payload',
        ctes: () => fresh,
        freshParams: (span) => [...span, metricKeys, cutoff],
        insert: (rows, at) => `
          INSERT INTO metrics_drilldown (project_id, metric_key, entity_type, entity_id, reference_id, time_bucket, payload, computed_at)
          SELECT project_id, metric_key, entity_type, entity_id, reference_id, bucket, payload, ${at} FROM ${rows}`,
      })),
      (part) => this.insertAll(tx, now, part),
    );
  }

  /**
   * An incremental run rewrites the drilldown rows of the changed entities only (a day of new
   * sessions no longer rewrites the day's other rows): upserts their current rows, deletes those
   * that have none any more (gone, moved before the cutoff, or a KPI event moved to another metric),
   * and, as a recompute of each affected day bucket would, empties the affected buckets older than
   * the cutoff (rows the retention has not dropped yet).
   */
  private async recomputeChangedDrilldown(tx: Db, now: Date, cutoff: Date): Promise<WriteCounts> {
    const metricKeys = ['sessions', ...KPI_METRIC_KEYS];
    await execute(tx, `TRUNCATE metrics_fresh_drilldown`);
    await execute(
      tx,
      `INSERT INTO metrics_fresh_drilldown (project_id, metric_key, entity_type, entity_id, reference_id, bucket, payload) ${CHANGED_DRILLDOWN_ROWS_SQL}`,
      [metricKeys, cutoff],
    );
    // the key columns only: the payloads' statistics (jsonb) took 80 ms for 10,000 rows, and nothing joins on them
    await execute(tx, `ANALYZE metrics_fresh_drilldown (project_id, metric_key, entity_type, entity_id, reference_id)`);
    // time-ordered ids (see uuidV7Run): random ones dirtied a page of the primary key per row (0.32 s
    // against 0.23 s for 10,000 rows). Numbered in the order the rows are read and inserted: sorted by
    // their key first, they took 20 ms more, and the fresh keys of a run are near each other in the key's indexes anyway.
    const ids = uuidV7Run(now.getTime());
    const row = await queryOne<WriteCounts>(
      tx,
      `WITH upserted AS (
         INSERT INTO metrics_drilldown AS t (id, project_id, metric_key, entity_type, entity_id, reference_id, time_bucket, payload, computed_at)
         SELECT ${UUID_V7_RUN_SQL('$3', '$4', 'row_number() OVER ()')}, project_id, metric_key, entity_type, entity_id, reference_id, bucket, payload, $1
         FROM metrics_fresh_drilldown
         ON CONFLICT ON CONSTRAINT metrics_drilldown_key DO UPDATE
           SET time_bucket = excluded.time_bucket, payload = excluded.payload, computed_at = excluded.computed_at
           WHERE (t.time_bucket, t.payload) IS DISTINCT FROM (excluded.time_bucket, excluded.payload)
         RETURNING 1
       ),
       sessions_gone AS (
         DELETE FROM metrics_drilldown t
         USING (SELECT c.project_id, c.entity_key FROM metrics_changed c
                WHERE c.source = 'session'
                  AND NOT EXISTS (SELECT 1 FROM metrics_fresh_drilldown f
                                  WHERE f.project_id = c.project_id AND f.metric_key = 'sessions' AND f.entity_type = 'session'
                                    AND f.reference_id = c.entity_key)) g
         WHERE t.project_id = g.project_id AND t.metric_key = 'sessions' AND t.entity_type = 'session' AND t.reference_id = g.entity_key
         RETURNING 1
       ),
       kpi_events_gone AS (
         DELETE FROM metrics_drilldown t USING metrics_changed c
         WHERE c.source = 'kpi_event' AND t.project_id = c.project_id AND t.metric_key = ANY($2::text[]) AND t.entity_type = 'kpi_event'
           AND t.entity_id = ${kpiEventIdOfKey('c')}
           AND NOT EXISTS (SELECT 1 FROM metrics_fresh_drilldown f
                           WHERE f.project_id = t.project_id AND f.metric_key = t.metric_key AND f.entity_type = t.entity_type
                             AND f.entity_id = t.entity_id)
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM upserted)::int AS upserted,
              ((SELECT count(*) FROM sessions_gone) + (SELECT count(*) FROM kpi_events_gone))::int AS deleted`,
      [now, KPI_METRIC_KEYS, ids.prefix, ids.start],
    );
    // every row left in a bucket older than the cutoff has no current row (the upsert moved those that have one)
    const expired = await execute(
      tx,
      `DELETE FROM metrics_drilldown t USING metrics_affected a
       WHERE a.grain = 'day' AND a.bucket < $1 AND t.project_id = a.project_id AND t.time_bucket = a.bucket
         AND ((a.source = 'session' AND t.entity_type = 'session' AND t.metric_key = 'sessions')
              OR (a.source = 'kpi_event' AND t.entity_type = 'kpi_event' AND t.metric_key = ANY($2::text[])))`,
      [cutoff, KPI_METRIC_KEYS],
    );
    return { upserted: row!.upserted, deleted: row!.deleted + expired };
  }

  /**
   * The hour bucket of project `projectId`'s calendar holding each of `instants`: its start (the
   * stored points' time_bucket) and the range [firstQuarter, end) of the instants it holds. A row
   * is bucketed by its quarter hour (see hourStartSql), so a bucket holds the rows of its quarters:
   * those of the quarters around the instant with the same hour start (a bucket is at most an
   * hour). The quarters come from a VALUES list: generate_series, which the planner guesses at
   * 1,000 rows, made this plan look costly enough to be JIT-compiled, 0.65 s for 132 rows.
   */
  private async hourBucketsHolding(tx: Db, projectId: string, instants: Date[]): Promise<Map<number, HourBucket>> {
    const rows = await queryRows<{ at: Date } & HourBucket>(
      tx,
      `SELECT x.at, h.bucket, min(n.q) AS "firstQuarter", max(n.q) + interval '15 minutes' AS "end"
       FROM projects p
       CROSS JOIN unnest($2::timestamptz[]) AS x(at)
       CROSS JOIN LATERAL (SELECT ${quarterSql('x.at')} AS q) xq
       CROSS JOIN LATERAL (SELECT ${hourStartSql('xq.q', 'p.timezone')} AS bucket) h
       CROSS JOIN LATERAL (SELECT xq.q + k * interval '15 minutes' FROM (VALUES ${QUARTERS_AROUND}) AS o(k)) AS n(q)
       WHERE p.id = $1 AND ${hourStartSql('n.q', 'p.timezone')} = h.bucket
       GROUP BY x.at, h.bucket`,
      [projectId, instants],
    );
    return new Map(rows.map(({ at, ...bucket }) => [at.getTime(), bucket]));
  }

  /**
   * The day buckets of project `projectId` wholly inside each of `periods` whose kept values
   * (metrics_day_values) are complete, as one range [from, to) of their starts, or null where
   * there is none: those starting at or after the period's start and after the cutoff the retention
   * last applied to them (`days_complete_from`), and ending by the period's end. Only where both
   * ends are quarter hours: a row is bucketed by its quarter hour (see quarterSql), so only then are
   * the values of the days exactly those of the rows in [from, to) (no current zone has an offset
   * off the quarter hours; some had until 1979).
   */
  private async wholeDaysWithin(tx: Db, projectId: string, periods: { from: Date; to: Date }[]): Promise<({ from: Date; to: Date } | null)[]> {
    const rows = await queryRows<{ from: Date; to: Date; usable: boolean }>(
      tx,
      `SELECT w.whole_from AS "from", w.whole_to AS "to",
              w.whole_from < w.whole_to AND w.whole_from = ${quarterSql('w.whole_from')} AND w.whole_to = ${quarterSql('w.whole_to')} AS usable
       FROM projects p
       CROSS JOIN unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS x(period_from, period_to, i)
       CROSS JOIN LATERAL (SELECT greatest(x.period_from, ${DAYS_COMPLETE_FROM_SQL}) AS at) f
       CROSS JOIN LATERAL (SELECT ${localBucketStartSql(`'day'`, 'f.at', 'p.timezone')} AS first_local, ${localBucketStartSql(`'day'`, 'x.period_to', 'p.timezone')} AS last_local) d
       CROSS JOIN LATERAL (
         SELECT CASE WHEN d.first_local AT TIME ZONE p.timezone = f.at THEN f.at ELSE (d.first_local + interval '1 day') AT TIME ZONE p.timezone END AS whole_from,
                d.last_local AT TIME ZONE p.timezone AS whole_to
       ) w
       WHERE p.id = $1
       ORDER BY x.i`,
      [projectId, periods.map((p) => p.from), periods.map((p) => p.to)],
    );
    return rows.map((r) => (r.usable ? { from: r.from, to: r.to } : null));
  }

  /**
   * The summary's headline `figures` (metric keys) over each of `periods` ([from, to) of sessions'
   * starts and KPI events' instants), in order, each exactly the value of the live stats endpoints
   * (GET …/stats/sessions, …/stats/session-metrics) over the period, in one statement after the
   * period's hour buckets are known:
   * - an additive figure (count, rate, mean) from its components: those of the points stored for
   *   the buckets wholly inside the period (this run's trend step has just brought them up to
   *   date: day points for its whole days, hour points for the hours around them; 17,970 hour
   *   points for the bench's six periods became 1,840 points, 24 ms to 3 ms), plus those of the
   *   period's rows in the two hour buckets at its edges, which the period holds only in part. The components are integers and exact sums (exactSumSql), so
   *   their total is the same as over the rows, and so is the value (measureValueSql, the one
   *   formula). Reading 60 days of sessions joined to their metrics had been most of each run's time;
   * - a median from the period's values (medians do not combine): the values kept for the day
   *   buckets wholly inside the period (wholeDaysWithin), this run's day values step has just
   *   brought them up to date, and those of the period's rows outside them, as sorted runs
   *   (percentileOfSortedRunsSql). The same values as the live statement's, so the same median.
   *   Reading 60 days of sessions for them had been 0.33 s of the summary's 0.46 s on the bench.
   */
  async summaryFigures(
    tx: Db,
    projectId: string,
    figures: readonly string[],
    periods: { from: Date; to: Date }[],
  ): Promise<Record<string, number | null>[]> {
    const metrics = figures.map((key) => {
      const metric = findMetric(key);
      if (!metric) throw new Error(`not a catalogue metric: ${key}`);
      if (metric.measure.kind === 'percentile' && metric.source !== 'sessions') throw new Error(`no summary of a percentile of ${metric.source}`);
      return metric;
    });
    const wholeDays = await this.wholeDaysWithin(tx, projectId, periods);
    const buckets = await this.hourBucketsHolding(
      tx,
      projectId,
      periods.flatMap((p, i) => [p.from, p.to, ...(wholeDays[i] ? [wholeDays[i].from, wholeDays[i].to] : [])]),
    );
    const edges = periods.map((p) => ({ first: buckets.get(p.from.getTime())!, last: buckets.get(p.to.getTime())! }));
    // The whole days whose day points stand for their hour points: where each end is an hour
    // bucket's start, and both lie between the edge buckets (whose rows are read instead).
    const pointDays = wholeDays.map((days, i) => {
      const startsHour = (at: Date) => buckets.get(at.getTime())!.bucket.getTime() === at.getTime();
      return days && startsHour(days.from) && startsHour(days.to) && days.from >= edges[i].first.end && days.to <= edges[i].last.bucket ? days : null;
    });
    // Every range the rows are read in is given by its own two parameters, so that the planner
    // plans each with its real bounds (a few index pages for an edge bucket, a bitmap scan of a
    // third of the table for 30 days), not with a guess for all of them.
    const params: unknown[] = [projectId, KPI_METRIC_KEYS];
    const param = (value: unknown) => `$${params.push(value)}`;
    const between = (at: string, from: Date, to: Date) => `(${at} >= ${param(from)}::timestamptz AND ${at} < ${param(to)}::timestamptz)`;
    // the edge buckets' instants, each bucket once: the only rows read besides the medians'
    const ranges = [...new Map(edges.flatMap((e) => [e.first, e.last]).map((b) => [b.firstQuarter.getTime(), b])).values()];
    const inRanges = (at: string) => ranges.map((b) => between(at, b.firstQuarter, b.end)).join(' OR ');
    const periodRows = periods
      .map(
        (p, i) =>
          `(${i + 1}, ${param(p.from)}::timestamptz, ${param(p.to)}::timestamptz, ${param(edges[i].first.bucket)}::timestamptz,` +
          ` ${param(edges[i].first.end)}::timestamptz, ${param(edges[i].last.bucket)}::timestamptz, ${param(edges[i].last.firstQuarter)}::timestamptz,` +
          ` ${param(pointDays[i]?.from ?? null)}::timestamptz, ${param(pointDays[i]?.to ?? null)}::timestamptz)`,
      )
      .join(', ');
    // a row of the period that no point of it holds: one of its edge buckets' rows within it
    const atEdge = (at: string) => `${at} >= p.period_from AND ${at} < p.period_to AND (${at} < p.first_bucket_end OR ${at} >= p.last_bucket_start)`;
    const combinable = metrics.filter((m) => m.measure.kind !== 'percentile');
    const pointPart = (m: MetricDefinition, part: string) => `"${m.key}:${part}"`;
    const pointSums = combinable
      .flatMap((m) =>
        MEASURE_PARTS[m.measure.kind].map(
          (part) => `sum((t.value_json->>${literal(part)})::numeric) FILTER (WHERE t.metric_key = ${literal(m.key)}) AS ${pointPart(m, part)}`,
        ),
      )
      .join(', ');
    const edgeAlias = { sessions: 'se', session_metrics: 'qe', kpi_events: 'ke' } as const;
    const figureSql = (m: MetricDefinition) => {
      if (m.measure.kind === 'percentile') return measureValueSql({ ...m.measure, value: `md.${m.measure.value}` });
      const parts = Object.fromEntries(
        MEASURE_PARTS[m.measure.kind].map((part) => {
          const edge =
            m.source === 'kpi_events' ? `ke.${pointPart(m, 'count')}` : `${edgeAlias[m.source]}.${(m.measure as Record<string, string>)[part]}`;
          return [part, `(coalesce(pt.${pointPart(m, part)}, 0) + coalesce(${edge}, 0))`];
        }),
      );
      return measureValueSql({ ...m.measure, ...parts } as Measure);
    };
    // each period's values of a quantity as sorted runs: its whole days' kept values, and its other rows' values
    const runsOf = (quantity: string) =>
      periods
        .map((p, i) => {
          const days = wholeDays[i];
          const rows = days
            ? `(${between('s.started_at', p.from, days.from)} OR ${between('s.started_at', days.to, p.to)})`
            : between('s.started_at', p.from, p.to);
          const kept = days
            ? `SELECT ${i + 1} AS i, r.vals FROM (${keptDayRunsSql('$1', quantity, `${param(days.from)}::timestamptz`, `${param(days.to)}::timestamptz`)}) r
               UNION ALL `
            : '';
          return `${kept}SELECT ${i + 1} AS i, array_agg(v.value ORDER BY v.value) AS vals
               FROM sessions s ${quantityValuesSql(SESSION_STATS_PERCENTILES)}
               WHERE s.project_id = $1 AND ${rows} AND v.quantity = ${literal(quantity)} AND v.value IS NOT NULL HAVING count(*) > 0`;
        })
        .join('\n         UNION ALL ');
    const medians = `SELECT p.i, ${SESSION_STATS_PERCENTILES.map((q, k) => `m${k}.value AS ${q.component}`).join(', ')}
         FROM periods p
         ${SESSION_STATS_PERCENTILES.map((q, k) => `LEFT JOIN ${percentileOfSortedRunsSql(runsOf(q.quantity), ['i'], q.fraction)} m${k} ON m${k}.i = p.i`).join('\n         ')}`;
    const keys = param(combinable.map((m) => m.key));
    const rows = await queryRows<{ figures: Record<string, number | null> }>(
      tx,
      `WITH periods (i, period_from, period_to, first_bucket, first_bucket_end, last_bucket, last_bucket_start, days_from, days_to) AS (VALUES ${periodRows}),
       edge_sessions AS MATERIALIZED (SELECT s.* FROM sessions s WHERE s.project_id = $1 AND (${inRanges('s.started_at')})),
       edge_kpi_events AS MATERIALIZED (
         SELECT k.kpi_id, k.occurred_at FROM kpi_events k WHERE k.project_id = $1 AND k.kpi_id = ANY($2::text[]) AND (${inRanges('k.occurred_at')})
       ),
       -- the hour points between the edge buckets, the whole days' as day points (a 24th of the rows)
       points AS (
         SELECT p.i, ${pointSums}
         FROM periods p
         CROSS JOIN LATERAL (
           ${[
             `'hour' AND t.time_bucket > p.first_bucket AND t.time_bucket < coalesce(p.days_from, p.last_bucket)`,
             `'day' AND t.time_bucket >= p.days_from AND t.time_bucket < p.days_to`,
             `'hour' AND t.time_bucket >= p.days_to AND t.time_bucket < p.last_bucket`,
           ]
             .map(
               (grainAndRange) => `SELECT t.metric_key, t.value_json FROM metrics_trend_point t
           WHERE t.project_id = $1 AND t.metric_key = ANY(${keys}::text[]) AND t.dimensions = '{}' AND t.time_grain = ${grainAndRange}`,
             )
             .join('\n           UNION ALL ')}
         ) t
         GROUP BY p.i
       ),
       session_edges AS (
         SELECT p.i, ${SESSION_STATS_ADDITIVE_COMPONENTS} FROM periods p JOIN edge_sessions s ON ${atEdge('s.started_at')} GROUP BY p.i
       ),
       quality_edges AS (
         SELECT p.i, ${SESSION_METRICS_ADDITIVE_COMPONENTS} FROM periods p JOIN (${sessionMetricsFrom('edge_sessions', true)}) ON ${atEdge('s.started_at')}
         GROUP BY p.i
       ),
       kpi_edges AS (
         SELECT p.i, ${KPI_METRIC_KEYS.map((k) => `count(*) FILTER (WHERE k.kpi_id = ${literal(k)}) AS "${k}:count"`).join(', ')}
         FROM periods p JOIN edge_kpi_events k ON ${atEdge('k.occurred_at')} GROUP BY p.i
       ),
       medians AS (
         ${medians}
       )
       SELECT p.i, jsonb_build_object(${metrics.map((m) => `${literal(m.key)}, ${figureSql(m)}`).join(', ')}) AS figures
       FROM periods p
       LEFT JOIN points pt ON pt.i = p.i
       LEFT JOIN session_edges se ON se.i = p.i
       LEFT JOIN quality_edges qe ON qe.i = p.i
       LEFT JOIN kpi_edges ke ON ke.i = p.i
       LEFT JOIN medians md ON md.i = p.i
       ORDER BY p.i`,
      params,
    );
    return rows.map((r) => r.figures);
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
  async countBuckets(projectId: string, grain: TimeGrain, from: Date, to: Date): Promise<number> {
    const row = await queryOne<{ n: number }>(
      this.db,
      `SELECT count(*)::int AS n FROM projects p, LATERAL (${bucketStartsSql(grain, 'p.timezone', '$2::timestamptz', '$3::timestamptz')}) b
       WHERE p.id = $1`,
      [projectId, from, to],
    );
    return row!.n;
  }

  /**
   * A trend in one statement, as the Metrics API answers it: every `grain` bucket holding an
   * instant of [from, to) in the project's calendar with its stored point (`emptyValue` where there
   * is none), ordered, and the latest compute time of the points. With `weeksBefore` (the
   * fine-grain retention cutoff), a range whose first bucket starts before it comes as `week`
   * buckets up to the first week that starts at or after it (retention keeps those there), and in
   * `grain` buckets from there. One round trip, and the points
   * come as JSON with their instants in epoch milliseconds (no timestamp text parsed per point):
   * on the 2-core machine, each further query of a request cost the API's p99 at 500 requests/s.
   * `timezone` is null when the project is gone.
   */
  async trend(
    projectId: string,
    metricKey: string,
    grain: TimeGrain,
    range: { from: Date; to: Date; weeksBefore: Date | null; emptyValue: number | null },
  ): Promise<{ timezone: string | null; computedAt: Date | null; points: { bucket: number; grain: TimeGrain; value: number | null }[] }> {
    // Retention drops the fine points of buckets starting before $5 (the cutoff). A range whose first
    // bucket starts at or after it is answered in its own grain throughout; one reaching further back
    // in weeks up to the first week start of the project's calendar at or after the cutoff (the week
    // holding the cutoff lost some of its days), and in fine buckets from there.
    const firstBucket = `(SELECT min(f.bucket) FROM (${bucketStartsSql(grain, 'p.timezone', '$3::timestamptz', `$3::timestamptz + interval '1 millisecond'`)}) f)`;
    const week = `date_trunc('week', $5::timestamptz AT TIME ZONE p.timezone)`;
    const split = `CASE WHEN ${week} AT TIME ZONE p.timezone >= $5::timestamptz THEN ${week} AT TIME ZONE p.timezone
                        ELSE (${week} + interval '1 week') AT TIME ZONE p.timezone END`;
    const buckets = `
      SELECT 'week'::metrics_time_grain AS grain, w.bucket
      FROM LATERAL (${bucketStartsSql('week', 'p.timezone', '$3::timestamptz', `least($4::timestamptz, s.at)`)}) w
      WHERE $3::timestamptz < s.at
      UNION ALL
      SELECT $6::metrics_time_grain, f.bucket
      FROM LATERAL (${bucketStartsSql(grain, 'p.timezone', `greatest($3::timestamptz, s.at)`, '$4::timestamptz')}) f
      WHERE $4::timestamptz > s.at`;
    const row = await queryPrepared<{
      timezone: string | null;
      computedAt: Date | null;
      points: { bucket: number; grain: TimeGrain; value: number | null }[];
    }>(
      this.db,
      `WITH project AS (SELECT timezone FROM projects WHERE id = $1),
       buckets AS (
         SELECT b.grain, b.bucket
         FROM project p
         CROSS JOIN LATERAL (SELECT CASE WHEN $5::timestamptz IS NULL OR ${firstBucket} >= $5::timestamptz THEN '-infinity'::timestamptz
                                         ELSE ${split} END AS at) s
         CROSS JOIN LATERAL (${buckets}) b
       )
       SELECT (SELECT timezone FROM project) AS timezone, max(t.computed_at) AS "computedAt",
              coalesce(json_agg(json_build_object(
                'bucket', extract(epoch FROM b.bucket) * 1000,
                'grain', b.grain,
                -- JSON has no NaN or infinity (PostgreSQL would write them as strings): null, as JSON.stringify gives
                'value', CASE WHEN t.computed_at IS NULL THEN $7::float8
                              WHEN t.value_numeric IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) THEN NULL
                              ELSE t.value_numeric END) ORDER BY b.bucket), '[]'::json) AS points
       FROM buckets b
       -- one probe of the upsert key per bucket: the planner, blind to the series' length, would
       -- otherwise hash every point of the metric, all grains (90 days: 1.5 ms against 0.7 ms, both
       -- under auto_explain)
       LEFT JOIN LATERAL (
         SELECT t.value_numeric, t.computed_at FROM metrics_trend_point t
         WHERE t.project_id = $1 AND t.metric_key = $2 AND t.time_grain = b.grain AND t.time_bucket = b.bucket AND t.dimensions = '{}'::jsonb
         LIMIT 1
       ) t ON true`,
      [projectId, metricKey, range.from, range.to, range.weeksBefore, grain, range.emptyValue],
    );
    return row[0]!;
  }

  /**
   * Day-bucket breakdown rows of [from, to) combined per dimension value from their stored
   * components, largest value first. The day holding `from` starts in the project's timezone, read
   * in the same statement (the guard has already found the project). Only the upsert key's index is
   * read (key order = this range; the components are INCLUDEd in it), as a prepared statement.
   * Where the dimension splits a bucket's total (`shareOfBucket`, e.g. drop-off by step), the
   * denominator is the total of every bucket of the range (carried by each of its rows), and the
   * group without a value only carries it.
   */
  breakdown(
    projectId: string,
    q: { metricKey: string; kind: MeasureKind; dimension: string; shareOfBucket: boolean; from: Date; to: Date; limit: number },
  ): Promise<BreakdownRow[]> {
    const params = [projectId, q.metricKey, q.dimension, q.from, q.to, q.limit];
    const ranged = `
      SELECT time_bucket, dimension_value, value_numerator, value_denominator FROM metrics_breakdown_point
      WHERE project_id = $1 AND metric_key = $2 AND dimension_key = $3 AND time_grain = 'day'
        AND time_bucket >= (SELECT date_trunc('day', $4::timestamptz AT TIME ZONE p.timezone) AT TIME ZONE p.timezone FROM projects p WHERE p.id = $1)
        AND time_bucket < $5`;
    if (q.shareOfBucket) {
      const share: Measure = { kind: 'rate', numerator: 'sum(b.value_numerator)', denominator: 'total.denominator' };
      return queryPrepared(
        this.db,
        `WITH b AS (${ranged}),
         total AS (
           SELECT coalesce(sum(value_denominator), 0) AS denominator
           FROM (SELECT DISTINCT ON (time_bucket) value_denominator FROM b ORDER BY time_bucket) per_bucket
         )
         SELECT b.dimension_value AS "dimensionValue", ${measureValueSql(share)} AS value, total.denominator::int AS "sampleSize"
         FROM b CROSS JOIN total
         WHERE b.dimension_value IS NOT NULL
         GROUP BY b.dimension_value, total.denominator
         ORDER BY value DESC NULLS LAST, b.dimension_value
         LIMIT $6`,
        params,
      );
    }
    return queryPrepared(
      this.db,
      `WITH b AS (${ranged})
       SELECT b.dimension_value AS "dimensionValue", ${combinedMeasureValueSql(q.kind, 'b')} AS value,
              ${combinedSampleSizeSql('b')}::int AS "sampleSize"
       FROM b
       GROUP BY b.dimension_value
       ORDER BY value DESC NULLS LAST, "sampleSize" DESC, b.dimension_value NULLS LAST
       LIMIT $6`,
      params,
    );
  }

  /** Drilldown rows of day buckets of [from, to), newest bucket first; `before` = (bucket, id) of the previous page's last row. */
  drilldown(
    projectId: string,
    q: {
      metricKey: string;
      entityType: string;
      onlyWithMetrics: boolean;
      onlyCompleted: boolean;
      timezone: string;
      from: Date;
      to: Date;
      limit: number;
    },
    before?: { bucket: string; id: string },
  ): Promise<DrilldownRow[]> {
    return queryRows(
      this.db,
      `SELECT id, entity_type AS "entityType", entity_id AS "entityId", reference_id AS "referenceId", time_bucket AS bucket, payload
       FROM metrics_drilldown
       WHERE project_id = $1 AND metric_key = $2 AND entity_type = $3
         AND time_bucket >= date_trunc('day', $5::timestamptz AT TIME ZONE $4) AT TIME ZONE $4 AND time_bucket < $6
         AND (NOT $7 OR (payload->>'hasMetrics')::boolean)
         AND (NOT $11 OR payload->>'status' = 'completed')
         AND ($8::timestamptz IS NULL OR (time_bucket, id) < ($8::timestamptz, $9::uuid))
       ORDER BY time_bucket DESC, id DESC
       LIMIT $10`,
      [
        projectId,
        q.metricKey,
        q.entityType,
        q.timezone,
        q.from,
        q.to,
        q.onlyWithMetrics,
        before?.bucket ?? null,
        before?.id ?? null,
        q.limit,
        q.onlyCompleted,
      ],
    );
  }

  /**
   * After a full rebuild every row of the tables the API reads was replaced: until autovacuum comes
   * round (never, where it is off) their planner statistics and visibility map describe rows that
   * are gone. Without statistics a 30-day breakdown was read through the seed's (project_id,
   * dimension_key, dimension_value) index, filtering all 90 kept days (5× the work); without the
   * visibility map its index-only scan visits the table for every row. VACUUM cannot run inside a
   * transaction: called once the rebuild has committed. The change log too: a rebuild consumes
   * whatever had piled up in it (all source rows after a bulk load), and the next incremental run
   * reads it whole. On two connections of the pool, as the rebuild wrote them: the drilldown (the
   * largest) on one, the rest on the other.
   */
  async vacuumRebuiltTables(): Promise<void> {
    const outcomes = await Promise.allSettled([
      execute(this.db, `VACUUM (ANALYZE) metrics_drilldown`),
      execute(this.db, `VACUUM (ANALYZE) metrics_trend_point, metrics_breakdown_point, metrics_source_change`),
    ]);
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, 'both vacuums of the rebuilt tables failed');
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

  /**
   * The trend points of the fine `grains` and the day values of buckets starting before `before`,
   * in one transaction that also records that the day points and values are complete only from
   * `before` on (the compute then takes a week or month starting earlier from its rows, see
   * markBucketsFromDays). A cutoff earlier than one already applied changes nothing of that.
   */
  deleteFinePoints(grains: readonly TimeGrain[], before: Date): Promise<{ trendPointsDeleted: number; dayValuesDeleted: number }> {
    return this.db.transaction(async (tx) => {
      const trendPointsDeleted = await execute(
        tx,
        `DELETE FROM metrics_trend_point WHERE time_grain = ANY($1::metrics_time_grain[]) AND time_bucket < $2`,
        [grains, before],
      );
      const dayValuesDeleted = await execute(tx, `DELETE FROM metrics_day_values WHERE time_bucket < $1`, [before]);
      await execute(tx, `UPDATE metrics_compute_state SET days_complete_from = greatest(days_complete_from, $1) WHERE id = 1`, [before]);
      return { trendPointsDeleted, dayValuesDeleted };
    });
  }

  async deleteBreakdownPoints(before: Date): Promise<number> {
    return execute(this.db, `DELETE FROM metrics_breakdown_point WHERE time_bucket < $1`, [before]);
  }

  async deleteDrilldown(before: Date): Promise<number> {
    return execute(this.db, `DELETE FROM metrics_drilldown WHERE time_bucket < $1`, [before]);
  }
}
