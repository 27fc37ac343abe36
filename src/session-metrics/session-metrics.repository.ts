import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { measureValueSql, type Measure } from '../common/database/measures.js';
import { execute, queryOne, queryRows, type Db } from '../common/database/sql.js';
import { uuidV7 } from '../common/database/uuid-v7.js';

/** The session as the pipeline loads it (sessions row + the stamp of its stored metrics, if any). */
export interface SessionForMetrics {
  sessionId: string;
  status: string;
  startedAt: Date | null;
  endedAt: Date | null;
  durationSeconds: number | null;
  eventCount: number | null;
  converted: boolean | null;
  aggregatedAt: Date | null;
  /** Stored metrics were computed from this very aggregation of the session (compared in SQL, to the microsecond). */
  metricsCurrent: boolean;
}

/** One row of the metrics statement: the five metrics plus the facts the verifier checks. */
export interface ComputedSessionMetrics {
  sessionId: string;
  timeToFirstDraftMs: number | null;
  completionRate: number | null;
  confirmationRate: number | null;
  signalDensity: number;
  droppedOff: boolean;
  dropOffStep: string | null;
  /** Events of the session read from tracking_events (all types). */
  eventsRead: number;
  /** step_started / step_completed events without a step name (spec: they require one). */
  unnamedStepEvents: number;
}

export interface StoredSessionMetrics {
  sessionId: string;
  timeToFirstDraftMs: number | null;
  completionRate: number | null;
  confirmationRate: number | null;
  signalDensity: number;
  droppedOff: boolean;
  dropOffStep: string | null;
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

export type NewPipelineRun = Omit<PipelineRun, 'id'>;

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
  SELECT project_id, session_id, started_at, duration_seconds, converted
  FROM sessions
  WHERE project_id = $1 AND session_id = ANY($2::text[])
),
e AS (
  SELECT e.session_id, e.type, e.name, e.occurred_at, e.seq
  FROM tracking_events e
  WHERE e.project_id = $1 AND e.session_id = ANY($2::text[])
),
counts AS (
  SELECT session_id,
         count(*)                                                  AS events_read,
         min(occurred_at) FILTER (WHERE type = 'draft_created')    AS first_draft_at,
         count(*) FILTER (WHERE type = 'draft_created')            AS drafts_created,
         count(*) FILTER (WHERE type = 'draft_confirmed')          AS drafts_confirmed,
         count(*) FILTER (WHERE type = 'signal')                   AS signals,
         count(*) FILTER (WHERE type IN ('step_started', 'step_completed') AND coalesce(name, '') = '') AS unnamed_step_events
  FROM e
  GROUP BY session_id
),
-- Each step a session started (distinct name), and whether a step_completed of that name exists
-- anywhere in the session (before or after the start). A completion without a start is no step.
started_steps AS (
  SELECT session_id, name, bool_or(type = 'step_completed') AS completed
  FROM e
  WHERE type IN ('step_started', 'step_completed') AND coalesce(name, '') <> ''
  GROUP BY session_id, name
  HAVING bool_or(type = 'step_started')
),
steps AS (
  SELECT session_id, count(*) AS started, count(*) FILTER (WHERE completed) AS completed
  FROM started_steps
  GROUP BY session_id
),
-- The open step whose step_started came last (time, then arrival order).
last_open_step AS (
  SELECT DISTINCT ON (e.session_id) e.session_id, e.name
  FROM e
  JOIN started_steps st ON st.session_id = e.session_id AND st.name = e.name AND NOT st.completed
  WHERE e.type = 'step_started'
  ORDER BY e.session_id, e.occurred_at DESC, e.seq DESC
),
m AS (
  SELECT s.session_id,
         round(extract(epoch FROM c.first_draft_at - s.started_at) * 1000)::float8               AS time_to_first_draft_ms,
         st.completed::float8 / nullif(st.started, 0)                                            AS completion_rate,
         c.drafts_confirmed::float8 / nullif(c.drafts_created, 0)                                AS confirmation_rate,
         coalesce(c.signals, 0)::float8 / greatest(coalesce(s.duration_seconds, 0) / 60.0, 1)::float8 AS signal_density,
         (NOT s.converted AND coalesce(st.started, 0) > coalesce(st.completed, 0))               AS dropped_off,
         coalesce(c.events_read, 0)::int                                                         AS events_read,
         coalesce(c.unnamed_step_events, 0)::int                                                 AS unnamed_step_events,
         los.name                                                                                AS last_open_step
  FROM s
  LEFT JOIN counts c          ON c.session_id = s.session_id
  LEFT JOIN steps st          ON st.session_id = s.session_id
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
       unnamed_step_events     AS "unnamedStepEvents"
FROM m`;

/**
 * THE definition of the session-metrics stats (GET .../stats/session-metrics) as additive
 * components of any group of completed sessions `s` joined to their metrics `m`, and the measure
 * each statistic is made of. The live endpoint groups a range into one row; the metrics read model
 * groups by time bucket (and drop-off step) with the very same select list. Means are over sessions
 * where the metric is not null; the drop-off rate is over completed sessions with metrics.
 */
export const SESSION_METRICS_ADDITIVE_COMPONENTS = `
  count(*)::int                                                                  AS sessions,
  count(m.time_to_first_draft_ms)::int                                           AS with_draft,
  sum(m.time_to_first_draft_ms)                                                  AS draft_ms_sum,
  count(m.completion_rate)::int                                                  AS completion_count,
  sum(m.completion_rate)                                                         AS completion_sum,
  count(m.confirmation_rate)::int                                                AS confirmation_count,
  sum(m.confirmation_rate)                                                       AS confirmation_sum,
  count(m.signal_density)::int                                                   AS signal_count,
  sum(m.signal_density)                                                          AS signal_sum,
  (count(*) FILTER (WHERE m.dropped_off))::int                                   AS dropped`;

/** The components that are not additive (computed per group from its rows). */
export const SESSION_METRICS_PERCENTILE_COMPONENTS = `
  percentile_cont(0.5) WITHIN GROUP (ORDER BY m.time_to_first_draft_ms)          AS draft_ms_p50,
  percentile_cont(0.9) WITHIN GROUP (ORDER BY m.time_to_first_draft_ms)          AS draft_ms_p90`;

export const SESSION_METRICS_COMPONENTS = `${SESSION_METRICS_ADDITIVE_COMPONENTS},${SESSION_METRICS_PERCENTILE_COMPONENTS}`;

/** The sessions a session-metrics group is made of: completed sessions with stored metrics. */
export const SESSION_METRICS_FROM = `session_metrics m
  JOIN sessions s ON s.project_id = m.project_id AND s.session_id = m.session_id AND s.status = 'completed'`;

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

const METRICS_COLUMNS = `session_id AS "sessionId", time_to_first_draft_ms::float8 AS "timeToFirstDraftMs",
  completion_rate AS "completionRate", confirmation_rate AS "confirmationRate", signal_density AS "signalDensity",
  dropped_off AS "droppedOff", drop_off_step AS "dropOffStep", computed_at AS "computedAt"`;

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
   * transaction ends, and loads them in the same statement. A second worker holding the same
   * session waits here; it then gets the session row as it is now (READ COMMITTED re-reads a
   * locked row), but `metricsCurrent` from its snapshot taken before the wait, which may miss the
   * metrics the first worker just stored. So `metricsCurrent` can be falsely false, never falsely
   * true (a stored stamp only grows), and the upsert settles it: see {@link upsertMetrics}.
   */
  lockSessions(tx: Db, projectId: string, sessionIds: string[]): Promise<SessionForMetrics[]> {
    return queryRows(
      tx,
      `SELECT s.session_id AS "sessionId", s.status, s.started_at AS "startedAt", s.ended_at AS "endedAt",
              s.duration_seconds AS "durationSeconds", s.event_count AS "eventCount", s.converted,
              s.aggregated_at AS "aggregatedAt",
              coalesce((SELECT m.session_aggregated_at >= s.aggregated_at
                        FROM session_metrics m WHERE m.project_id = s.project_id AND m.session_id = s.session_id), false) AS "metricsCurrent"
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
   * Inserts or replaces the metrics rows of one project's sessions, in one statement, and answers
   * the ids it wrote. Unless `force`, a stored row computed from the same (or a later) aggregation
   * of its session is left alone: ON CONFLICT compares against the latest committed row, so a
   * worker that waited for another's lock, and computed a session the other had just stored,
   * writes nothing for it (and the caller records no run): each session is processed once.
   */
  async upsertMetrics(tx: Db, projectId: string, rows: ComputedSessionMetrics[], computedAt: Date, force: boolean): Promise<string[]> {
    if (rows.length === 0) return [];
    const written = await queryRows<{ sessionId: string }>(
      tx,
      `INSERT INTO session_metrics (project_id, session_id, time_to_first_draft_ms, completion_rate, confirmation_rate,
                                    signal_density, dropped_off, drop_off_step, session_aggregated_at, computed_at)
       SELECT $1, r.session_id, r.ttfd, r.completion, r.confirmation, r.density, r.dropped, r.step,
              -- the stamp comes from the (locked) sessions row itself: a round trip through JS would
              -- cut it to ms. A scalar subquery, so it is one index lookup per row whatever the
              -- planner believes about the sizes (a join hashed every session of the project).
              (SELECT s.aggregated_at FROM sessions s WHERE s.project_id = $1 AND s.session_id = r.session_id), $9
       FROM unnest($2::text[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[], $7::boolean[], $8::text[])
            AS r(session_id, ttfd, completion, confirmation, density, dropped, step)
       ON CONFLICT (project_id, session_id) DO UPDATE SET
         time_to_first_draft_ms = EXCLUDED.time_to_first_draft_ms,
         completion_rate        = EXCLUDED.completion_rate,
         confirmation_rate      = EXCLUDED.confirmation_rate,
         signal_density         = EXCLUDED.signal_density,
         dropped_off            = EXCLUDED.dropped_off,
         drop_off_step          = EXCLUDED.drop_off_step,
         session_aggregated_at  = EXCLUDED.session_aggregated_at,
         computed_at            = EXCLUDED.computed_at
       WHERE $10 OR session_metrics.session_aggregated_at < EXCLUDED.session_aggregated_at
       RETURNING session_id AS "sessionId"`,
      [
        projectId,
        rows.map((r) => r.sessionId),
        rows.map((r) => r.timeToFirstDraftMs),
        rows.map((r) => r.completionRate),
        rows.map((r) => r.confirmationRate),
        rows.map((r) => r.signalDensity),
        rows.map((r) => r.droppedOff),
        rows.map((r) => r.dropOffStep),
        computedAt,
        force,
      ],
    );
    return written.map((r) => r.sessionId);
  }

  /**
   * Records attempts; inside the attempt's transaction (`db` = tx) or on their own. Ids are
   * time-ordered (v7) rather than the column's random default: a batch's hundreds of rows then
   * append to the primary key instead of dirtying a page of it per row.
   */
  async insertRuns(projectId: string, runs: NewPipelineRun[], db: Db = this.db): Promise<void> {
    if (runs.length === 0) return;
    await queryRows(
      db,
      `INSERT INTO pipeline_runs (project_id, id, session_id, status, error_code, error_message, attempt, job_id,
                                  started_at, finished_at, duration_ms)
       SELECT $1, r.id, r.session_id, r.status, r.error_code, r.error_message, r.attempt, r.job_id,
              date_trunc('milliseconds', r.started_at), date_trunc('milliseconds', r.finished_at), r.duration_ms
       FROM unnest($11::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::int[])
            AS r(id, session_id, status, error_code, error_message, attempt, job_id, started_at, finished_at, duration_ms)`,
      [
        projectId,
        runs.map((r) => r.sessionId),
        runs.map((r) => r.status),
        runs.map((r) => r.errorCode),
        runs.map((r) => r.errorMessage),
        runs.map((r) => r.attempt),
        runs.map((r) => r.jobId),
        runs.map((r) => r.startedAt),
        runs.map((r) => r.finishedAt),
        runs.map((r) => r.durationMs),
        runs.map((r) => uuidV7(r.startedAt.getTime())),
      ],
    );
  }

  findMetrics(projectId: string, sessionId: string): Promise<StoredSessionMetrics | undefined> {
    return queryOne(this.db, `SELECT ${METRICS_COLUMNS} FROM session_metrics WHERE project_id = $1 AND session_id = $2`, [projectId, sessionId]);
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
