import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppError } from '../common/errors/app-error.js';
import { exactSumSql, measureValueSql, percentileComponentsSql, type Measure, type PercentileComponent } from '../common/database/measures.js';
import { execute, lookUpByKey, queryOne, queryRows, type Db } from '../common/database/sql.js';
import { uuidV7Run, UUID_V7_RUN_SQL } from '../common/database/uuid-v7.js';
import { SessionMetricsVerifier } from './session-metrics.verifier.js';

/** The session as the pipeline loads (and locks) it. */
export interface SessionForMetrics {
  sessionId: string;
  status: string;
  /** Stored metrics were computed from this very aggregation of the session (compared in SQL, to the microsecond). */
  metricsCurrent: boolean;
  /** What makes the sessions row unusable for metrics ({@link SessionMetricsVerifier}); empty when it is fine. */
  problems: string[];
}

/** A session's five quality metrics (spec §3), as the metrics statement names them. */
export interface SessionMetricFigures {
  sessionId: string;
  timeToFirstDraftMs: number | null;
  completionRate: number | null;
  confirmationRate: number | null;
  signalDensity: number;
  droppedOff: boolean;
  dropOffStep: string | null;
}

/** One row of the metrics statement: the five metrics plus the facts the verifier checks. */
export interface ComputedSessionMetrics extends SessionMetricFigures {
  /** Events of the session read from tracking_events (all types). */
  eventsRead: number;
  /** step_started / step_completed events without a step name (spec: they require one). */
  unnamedStepEvents: number;
  /** The sessions row's aggregated_at the metrics were computed from (stored with them). */
  sessionAggregatedAt: Date;
}

/** One session of a batch after {@link SessionMetricsRepository.computeAndStore}. */
export interface ComputeAndStoreRow extends SessionMetricFigures {
  /** What the verifier found wrong with the computed metrics; nothing is stored when not empty. */
  problems: string[];
  /** False for a row another worker stored from the same (or a later) aggregation meanwhile. */
  written: boolean;
}

export interface StoredSessionMetrics extends SessionMetricFigures {
  computedAt: Date;
}

export interface PipelineRun {
  id: string;
  sessionId: string;
  status: 'succeeded' | 'failed';
  errorCode: string | null;
  errorMessage: string | null;
  attempt: number;
  jobId: string | null;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
}

/** The run rows of one attempt: each session succeeded or failed with its error; all share the timings. */
export interface AttemptRuns {
  succeeded: string[];
  failed: { sessionId: string; error: AppError }[];
  attempt: number;
  jobId: string | null;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
}

export interface SessionMetricsStats {
  sessions: number;
  sessionsWithDraft: number;
  timeToFirstDraftAvgMs: number | null;
  timeToFirstDraftP50Ms: number | null;
  timeToFirstDraftP90Ms: number | null;
  completionRateMean: number | null;
  confirmationRateMean: number | null;
  signalDensityMean: number | null;
  dropOffRate: number | null;
}

/**
 * THE definition of the five session quality metrics (spec §3, docs/session-metrics.md), for any
 * set of sessions of one project: $1 project id, $2 session ids. The queue's batches, the
 * recompute endpoint (a one-element set) and the benchmark all run this statement; there is no
 * second copy of any formula. Sessions not in `sessions` give no row.
 */
export const SESSION_METRICS_SQL = `
WITH s AS (
  SELECT project_id, session_id, started_at, duration_seconds, converted, aggregated_at
  FROM sessions
  WHERE project_id = $1 AND session_id = ANY($2::text[])
),
-- One pass over the batch's events: a row per session and step name (the step events of that
-- name), plus one per session for all its other events (step null). Whether the step was started
-- and completed (before or after the start, any order) and its latest start (time, then arrival
-- order: seq) come from the same pass as the session's counts.
per_step AS (
  SELECT e.session_id,
         CASE WHEN e.type IN ('step_started', 'step_completed') AND coalesce(e.name, '') <> '' THEN e.name END AS step,
         count(*)::int                                                AS events,
         min(e.occurred_at) FILTER (WHERE e.type = 'draft_created')   AS first_draft_at,
         (count(*) FILTER (WHERE e.type = 'draft_created'))::int      AS drafts_created,
         (count(*) FILTER (WHERE e.type = 'draft_confirmed'))::int    AS drafts_confirmed,
         (count(*) FILTER (WHERE e.type = 'signal'))::int             AS signals,
         (count(*) FILTER (WHERE e.type IN ('step_started', 'step_completed') AND coalesce(e.name, '') = ''))::int AS unnamed_step_events,
         bool_or(e.type = 'step_started')                             AS started,
         bool_or(e.type = 'step_completed')                           AS completed,
         max(ARRAY[(extract(epoch FROM e.occurred_at) * 1000000)::bigint, e.seq]) FILTER (WHERE e.type = 'step_started') AS last_start
  FROM tracking_events e
  WHERE e.project_id = $1 AND e.session_id = ANY($2::text[])
  GROUP BY 1, 2
),
-- A step is a name with a step_started; a completion without a start counts nowhere.
counts AS (
  SELECT session_id,
         sum(events)                                                       AS events_read,
         min(first_draft_at)                                               AS first_draft_at,
         sum(drafts_created)                                               AS drafts_created,
         sum(drafts_confirmed)                                             AS drafts_confirmed,
         sum(signals)                                                      AS signals,
         sum(unnamed_step_events)                                          AS unnamed_step_events,
         count(*) FILTER (WHERE step IS NOT NULL AND started)              AS steps_started,
         count(*) FILTER (WHERE step IS NOT NULL AND started AND completed) AS steps_completed
  FROM per_step
  GROUP BY session_id
),
-- The open step whose latest step_started came last (time, then arrival order).
last_open_step AS (
  SELECT DISTINCT ON (session_id) session_id, step AS name
  FROM per_step
  WHERE step IS NOT NULL AND started AND NOT completed
  ORDER BY session_id, last_start DESC
),
m AS (
  SELECT s.session_id, s.aggregated_at,
         round(extract(epoch FROM c.first_draft_at - s.started_at) * 1000)::float8               AS time_to_first_draft_ms,
         c.steps_completed::float8 / nullif(c.steps_started, 0)                                  AS completion_rate,
         c.drafts_confirmed::float8 / nullif(c.drafts_created, 0)                                AS confirmation_rate,
         coalesce(c.signals, 0)::float8 / greatest(coalesce(s.duration_seconds, 0) / 60.0, 1)::float8 AS signal_density,
         (NOT s.converted AND coalesce(c.steps_started, 0) > coalesce(c.steps_completed, 0))     AS dropped_off,
         coalesce(c.events_read, 0)::int                                                         AS events_read,
         coalesce(c.unnamed_step_events, 0)::int                                                 AS unnamed_step_events,
         los.name                                                                                AS last_open_step
  FROM s
  LEFT JOIN counts c           ON c.session_id = s.session_id
  LEFT JOIN last_open_step los ON los.session_id = s.session_id
)
SELECT session_id              AS "sessionId",
       time_to_first_draft_ms  AS "timeToFirstDraftMs",
       completion_rate         AS "completionRate",
       confirmation_rate       AS "confirmationRate",
       signal_density          AS "signalDensity",
       dropped_off             AS "droppedOff",
       CASE WHEN dropped_off THEN last_open_step END AS "dropOffStep",
       events_read             AS "eventsRead",
       unnamed_step_events     AS "unnamedStepEvents",
       aggregated_at           AS "sessionAggregatedAt"
FROM m`;

/**
 * THE definition of the session-metrics stats (GET .../stats/session-metrics) as additive
 * components of any group of completed sessions `s` joined to their metrics `m`, and the measure
 * each statistic is made of. The live endpoint groups a range into one row; the metrics read model
 * groups by time bucket (and drop-off step) with the very same select list. Means are over sessions
 * where the metric is not null; the drop-off rate is over completed sessions with metrics. The
 * fractional metrics are summed exactly (exactSumSql), the same in any order of the rows.
 */
export const SESSION_METRICS_ADDITIVE_COMPONENTS = `
  count(*)::int                                                                  AS sessions,
  count(m.time_to_first_draft_ms)::int                                           AS with_draft,
  sum(m.time_to_first_draft_ms)                                                  AS draft_ms_sum,
  count(m.completion_rate)::int                                                  AS completion_count,
  ${exactSumSql('m.completion_rate')}                                                AS completion_sum,
  count(m.confirmation_rate)::int                                                AS confirmation_count,
  ${exactSumSql('m.confirmation_rate')}                                              AS confirmation_sum,
  count(m.signal_density)::int                                                   AS signal_count,
  ${exactSumSql('m.signal_density')}                                                 AS signal_sum,
  (count(*) FILTER (WHERE m.dropped_off))::int                                   AS dropped`;

/** The components that are not additive (computed per group from its rows). */
export const SESSION_METRICS_PERCENTILES: readonly PercentileComponent[] = [
  { component: 'draft_ms_p50', fraction: 0.5, quantity: 'time_to_first_draft_ms', expression: 'm.time_to_first_draft_ms' },
  { component: 'draft_ms_p90', fraction: 0.9, quantity: 'time_to_first_draft_ms', expression: 'm.time_to_first_draft_ms' },
];

export const SESSION_METRICS_PERCENTILE_COMPONENTS = percentileComponentsSql(SESSION_METRICS_PERCENTILES);

export const SESSION_METRICS_COMPONENTS = `${SESSION_METRICS_ADDITIVE_COMPONENTS},${SESSION_METRICS_PERCENTILE_COMPONENTS}`;

/**
 * The sessions a session-metrics group is made of: completed sessions with stored metrics, from
 * `sessions` (the table, or a relation of some of its rows with all its columns). `byKey`: each
 * session's metrics looked up by its key, whatever the planner guesses of `sessions`. For a few
 * rows it has no statistics of (a materialized CTE): guessed at one, they were joined to every
 * metrics row of their project instead, 0.63 s for 419 sessions of a project analyzed before it had any.
 */
export function sessionMetricsFrom(sessions: string, byKey = false): string {
  const match = `s.project_id = m.project_id AND s.session_id = m.session_id AND s.status = 'completed'`;
  if (byKey) return `${sessions} s CROSS JOIN LATERAL (${lookUpByKey('session_metrics m', match)}) m`;
  return `session_metrics m
  JOIN ${sessions} s ON ${match}`;
}

export const SESSION_METRICS_FROM = sessionMetricsFrom('sessions');

export const SESSION_METRICS_MEASURES = {
  time_to_first_draft_ms_avg: { kind: 'mean', sum: 'draft_ms_sum', count: 'with_draft' },
  time_to_first_draft_ms_p50: { kind: 'percentile', value: 'draft_ms_p50', count: 'with_draft' },
  time_to_first_draft_ms_p90: { kind: 'percentile', value: 'draft_ms_p90', count: 'with_draft' },
  completion_rate: { kind: 'mean', sum: 'completion_sum', count: 'completion_count' },
  confirmation_rate: { kind: 'mean', sum: 'confirmation_sum', count: 'confirmation_count' },
  signal_density: { kind: 'mean', sum: 'signal_sum', count: 'signal_count' },
  drop_off_rate: { kind: 'rate', numerator: 'dropped', denominator: 'sessions' },
} as const satisfies Record<string, Measure>;

/** The stats over a range: $1 project id, $2 from (inclusive), $3 to (exclusive) on sessions.started_at; either bound may be null. */
export const SESSION_METRICS_STATS_SQL = `
WITH c AS (
  SELECT ${SESSION_METRICS_COMPONENTS}
  FROM ${SESSION_METRICS_FROM}
  WHERE m.project_id = $1 AND ($2::timestamptz IS NULL OR s.started_at >= $2) AND ($3::timestamptz IS NULL OR s.started_at < $3)
)
SELECT sessions                                                                       AS "sessions",
       with_draft                                                                     AS "sessionsWithDraft",
       ${measureValueSql(SESSION_METRICS_MEASURES.time_to_first_draft_ms_avg)}         AS "timeToFirstDraftAvgMs",
       ${measureValueSql(SESSION_METRICS_MEASURES.time_to_first_draft_ms_p50)}         AS "timeToFirstDraftP50Ms",
       ${measureValueSql(SESSION_METRICS_MEASURES.time_to_first_draft_ms_p90)}         AS "timeToFirstDraftP90Ms",
       ${measureValueSql(SESSION_METRICS_MEASURES.completion_rate)}                    AS "completionRateMean",
       ${measureValueSql(SESSION_METRICS_MEASURES.confirmation_rate)}                  AS "confirmationRateMean",
       ${measureValueSql(SESSION_METRICS_MEASURES.signal_density)}                     AS "signalDensityMean",
       ${measureValueSql(SESSION_METRICS_MEASURES.drop_off_rate)}                      AS "dropOffRate"
FROM c`;

const METRICS_COLUMNS = `m.session_id AS "sessionId", m.time_to_first_draft_ms::float8 AS "timeToFirstDraftMs",
  m.completion_rate AS "completionRate", m.confirmation_rate AS "confirmationRate", m.signal_density AS "signalDensity",
  m.dropped_off AS "droppedOff", m.drop_off_step AS "dropOffStep", m.computed_at AS "computedAt"`;

const RUN_COLUMNS = `id, session_id AS "sessionId", status, error_code AS "errorCode", error_message AS "errorMessage",
  attempt, job_id AS "jobId", started_at AS "startedAt", finished_at AS "finishedAt", duration_ms AS "durationMs"`;

/** Every query of the metrics pipeline. Reads sessions/tracking_events; writes only its own tables. */
@Injectable()
export class SessionMetricsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  /**
   * Settings of a batch's transaction (this transaction only), in one round trip:
   * - Every statement of a batch looks its sessions up by id (lock, load, events, stamp). Index
   *   lookups are what they need whatever the table sizes, but for a batch of hundreds of ids the
   *   planner costs a sequential scan of all of a project's sessions as cheaper: every batch then
   *   read every session, and a 100,000-session hand-off cost O(N²). So no sequential scans.
   * - `asyncCommit`: the commit does not wait for its WAL flush. Only for a queued job: the
   *   queue marks the job completed afterwards in a synchronous commit, and WAL is flushed in
   *   order, so the job is never recorded done while its metrics could still be lost; a crash
   *   before that loses both and the job runs again.
   */
  async configureBatch(tx: Db, options: { asyncCommit: boolean }): Promise<void> {
    await execute(tx, `SELECT set_config('enable_seqscan', 'off', true), set_config('synchronous_commit', $1, true)`, [
      options.asyncCommit ? 'off' : 'on',
    ]);
  }

  /**
   * Locks the sessions of a batch (in id order, so overlapping batches cannot deadlock) until the
   * transaction ends, and loads and checks them in the same statement. A second worker holding the
   * same session waits here; it then gets the session row as it is now (READ COMMITTED re-reads a
   * locked row), but `metricsCurrent` from its snapshot taken before the wait, which may miss the
   * metrics the first worker just stored. So `metricsCurrent` can be falsely false, never falsely
   * true (a stored stamp only grows), and the upsert settles it: see {@link computeAndStore}.
   * The lock must be its own statement: the metrics are then computed with a snapshot taken after
   * it, so they see every event the aggregation committed before giving the session up.
   */
  lockSessions(tx: Db, projectId: string, sessionIds: string[]): Promise<SessionForMetrics[]> {
    return queryRows(
      tx,
      `SELECT s.session_id AS "sessionId", s.status,
              coalesce((SELECT m.session_aggregated_at >= s.aggregated_at
                        FROM session_metrics m WHERE m.project_id = s.project_id AND m.session_id = s.session_id), false) AS "metricsCurrent",
              ${SessionMetricsVerifier.SESSION_PROBLEMS_SQL} AS problems
       FROM sessions s
       WHERE s.project_id = $1 AND s.session_id = ANY($2::text[])
       ORDER BY s.session_id
       FOR NO KEY UPDATE OF s`,
      [projectId, sessionIds],
    );
  }

  async computeMetrics(db: Db, projectId: string, sessionIds: string[]): Promise<ComputedSessionMetrics[]> {
    if (sessionIds.length === 0) return [];
    return queryRows(db, SESSION_METRICS_SQL, [projectId, sessionIds]);
  }

  /**
   * Steps 3 and 4 for a batch in one statement: computes the metrics ({@link SESSION_METRICS_SQL}),
   * checks them ({@link SessionMetricsVerifier.METRICS_PROBLEMS_SQL}) and upserts those without
   * problems, stamped with the aggregation they were computed from as read by the same statement
   * (to the microsecond). The metrics never travel to the service and back: only each session's
   * problems, whether it was written, and its figures (for the recompute endpoint's answer).
   * Unless `force`, a stored row computed from the same (or a later) aggregation of its session is
   * left alone: ON CONFLICT compares against the latest committed row, so a worker that waited for
   * another's lock, and computed a session the other had just stored, writes nothing for it (and
   * the caller records no run): each session is processed once.
   */
  async computeAndStore(tx: Db, projectId: string, sessionIds: string[], computedAt: Date, force: boolean): Promise<ComputeAndStoreRow[]> {
    if (sessionIds.length === 0) return [];
    return queryRows(
      tx,
      `WITH computed AS (${SESSION_METRICS_SQL}),
       checked AS (
         SELECT m.*, ${SessionMetricsVerifier.METRICS_PROBLEMS_SQL} AS problems FROM computed m
       ),
       written AS (
         INSERT INTO session_metrics (project_id, session_id, time_to_first_draft_ms, completion_rate, confirmation_rate,
                                      signal_density, dropped_off, drop_off_step, session_aggregated_at, computed_at)
         SELECT $1, c."sessionId", c."timeToFirstDraftMs", c."completionRate", c."confirmationRate",
                c."signalDensity", c."droppedOff", c."dropOffStep", c."sessionAggregatedAt", $3
         FROM checked c
         WHERE cardinality(c.problems) = 0
         ON CONFLICT (project_id, session_id) DO UPDATE SET
           time_to_first_draft_ms = EXCLUDED.time_to_first_draft_ms,
           completion_rate        = EXCLUDED.completion_rate,
           confirmation_rate      = EXCLUDED.confirmation_rate,
           signal_density         = EXCLUDED.signal_density,
           dropped_off            = EXCLUDED.dropped_off,
           drop_off_step          = EXCLUDED.drop_off_step,
           session_aggregated_at  = EXCLUDED.session_aggregated_at,
           computed_at            = EXCLUDED.computed_at
         WHERE $4::boolean OR session_metrics.session_aggregated_at < EXCLUDED.session_aggregated_at
         RETURNING session_id
       )
       SELECT c."sessionId", c.problems, w.session_id IS NOT NULL AS written,
              c."timeToFirstDraftMs", c."completionRate", c."confirmationRate", c."signalDensity", c."droppedOff", c."dropOffStep"
       FROM checked c
       LEFT JOIN written w ON w.session_id = c."sessionId"`,
      [projectId, sessionIds, computedAt, force],
    );
  }

  /**
   * Records an attempt's runs; inside the attempt's transaction (`db` = tx) or on their own. The
   * rows are made here from the session ids and the attempt's shared timings, not shipped one by
   * one. Ids are time-ordered (v7, a run of them per attempt) rather than the column's random
   * default: a batch's hundreds of rows then append to the primary key instead of dirtying a page
   * of it per row.
   */
  async insertRuns(projectId: string, runs: AttemptRuns, db: Db = this.db): Promise<void> {
    if (runs.succeeded.length === 0 && runs.failed.length === 0) return;
    const ids = uuidV7Run(runs.startedAt.getTime());
    await execute(
      db,
      `INSERT INTO pipeline_runs (project_id, id, session_id, status, error_code, error_message, attempt, job_id,
                                  started_at, finished_at, duration_ms)
       SELECT $1, ${UUID_V7_RUN_SQL('$2', '$3', 'r.n')}, r.session_id,
              CASE WHEN r.error_code IS NULL THEN 'succeeded' ELSE 'failed' END, r.error_code, r.error_message, $7, $8,
              date_trunc('milliseconds', $9::timestamptz), date_trunc('milliseconds', $10::timestamptz), $11
       FROM (SELECT ok.session_id, NULL::text AS error_code, NULL::text AS error_message, ok.n
             FROM unnest($4::text[]) WITH ORDINALITY AS ok(session_id, n)
             UNION ALL
             SELECT f.session_id, f.error_code, f.error_message, cardinality($4::text[]) + f.n
             FROM unnest($5::text[], $6::text[], $12::text[]) WITH ORDINALITY AS f(session_id, error_code, error_message, n)) r`,
      [
        projectId,
        ids.prefix,
        ids.start,
        runs.succeeded,
        runs.failed.map((f) => f.sessionId),
        runs.failed.map((f) => f.error.code),
        runs.attempt,
        runs.jobId,
        runs.startedAt,
        runs.finishedAt,
        runs.durationMs,
        runs.failed.map((f) => f.error.message.slice(0, 2000)),
      ],
    );
  }

  /**
   * A session's metrics while it is completed. A late event can make a measured session active
   * again; its stored metrics then describe the session before that event, and the stats leave it
   * out (SESSION_METRICS_FROM), so this read does too until it completes and is measured again.
   */
  findMetrics(projectId: string, sessionId: string): Promise<StoredSessionMetrics | undefined> {
    return queryOne(this.db, `SELECT ${METRICS_COLUMNS} FROM ${SESSION_METRICS_FROM} WHERE m.project_id = $1 AND m.session_id = $2`, [
      projectId,
      sessionId,
    ]);
  }

  async sessionExists(projectId: string, sessionId: string): Promise<boolean> {
    const row = await queryOne(this.db, `SELECT 1 FROM sessions WHERE project_id = $1 AND session_id = $2`, [projectId, sessionId]);
    return row !== undefined;
  }

  /** Newest first; `before` is the (startedAt, id) of the last run of the previous page. */
  listRuns(
    projectId: string,
    filter: { status?: string; sessionId?: string },
    limit: number,
    before?: { startedAt: string; id: string },
  ): Promise<PipelineRun[]> {
    return queryRows(
      this.db,
      `SELECT ${RUN_COLUMNS} FROM pipeline_runs
       WHERE project_id = $1
         AND ($2::text IS NULL OR status = $2)
         AND ($3::text IS NULL OR session_id = $3)
         AND ($4::timestamptz IS NULL OR (started_at, id) < ($4::timestamptz, $5::uuid))
       ORDER BY started_at DESC, id DESC
       LIMIT $6`,
      [projectId, filter.status ?? null, filter.sessionId ?? null, before?.startedAt ?? null, before?.id ?? null, limit],
    );
  }

  /**
   * Completed sessions (all projects) with no metrics, or with metrics older than the session's
   * last aggregation (late events), in (project, session) order after `after`.
   */
  findSessionsNeedingMetrics(limit: number, after?: { projectId: string; sessionId: string }): Promise<{ projectId: string; sessionId: string }[]> {
    return queryRows(
      this.db,
      `SELECT s.project_id AS "projectId", s.session_id AS "sessionId"
       FROM sessions s
       LEFT JOIN session_metrics m ON m.project_id = s.project_id AND m.session_id = s.session_id
       WHERE s.status = 'completed'
         AND (m.session_id IS NULL OR s.aggregated_at > m.session_aggregated_at)
         AND ($1::uuid IS NULL OR (s.project_id, s.session_id) > ($1::uuid, $2::text))
       ORDER BY s.project_id, s.session_id
       LIMIT $3`,
      [after?.projectId ?? null, after?.sessionId ?? null, limit],
    );
  }

  async stats(projectId: string, from: Date | undefined, to: Date | undefined): Promise<SessionMetricsStats> {
    return (await queryOne<SessionMetricsStats>(this.db, SESSION_METRICS_STATS_SQL, [projectId, from ?? null, to ?? null]))!;
  }
}
