import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { execute, queryOne, queryRows, type Db } from '../common/database/sql.js';
import { SESSION_STATS_SQL } from './session-stats.sql.js';

export interface SessionRow {
  sessionId: string;
  userId: string | null;
  status: 'active' | 'completed';
  startedAt: Date;
  endedAt: Date;
  completedAt: Date | null;
  durationSeconds: number | null;
  pageCount: number;
  eventCount: number;
  entryPage: string | null;
  exitPage: string | null;
  journeyPath: string[];
  bounced: boolean;
  converted: boolean;
}

export interface RebuiltSession {
  projectId: string;
  sessionId: string;
  created: boolean;
  status: 'active' | 'completed';
  completedAt: Date | null;
}

export interface SessionFilter {
  from?: Date;
  to?: Date;
  status?: 'active' | 'completed';
  converted?: boolean;
  bounced?: boolean;
}

const SESSION_COLUMNS = `
  session_id AS "sessionId", user_id AS "userId", status, started_at AS "startedAt", ended_at AS "endedAt",
  completed_at AS "completedAt", duration_seconds AS "durationSeconds", page_count AS "pageCount",
  event_count AS "eventCount", entry_page AS "entryPage", exit_page AS "exitPage", journey_path AS "journeyPath",
  bounced, converted`;

/**
 * Every session of a batch rebuilt from ALL its events, as one statement. The definitions of
 * spec §3 live here and nowhere else:
 * - events ordered by (occurred_at, seq): client time, ties in order of arrival;
 * - duration = last − first event in seconds, null for a single event;
 * - page_count = pageviews; journey_path = their paths in order; entry/exit = first/last of it;
 * - bounced = page_count = 1; converted = any `conversion` event;
 * - user_id = the last non-null user id (a visitor who logs in mid-session is that user);
 * - completed when there is a session_end event, or the last event is older than the project's
 *   timeout at `now`; completed_at = the first session_end's time, else last event + timeout.
 * The upsert writes only rows whose content changed, so a rerun with nothing new touches nothing;
 * every row it returns was created or changed.
 */
const REBUILD_BATCH_SQL = `
  WITH batch AS (
    -- By row address (a TID scan): the rows are locked here, so their addresses cannot change.
    DELETE FROM session_rebuild_queue q
    WHERE q.ctid = ANY (ARRAY(
      SELECT ctid FROM session_rebuild_queue
      ORDER BY project_id, session_id LIMIT $2 FOR UPDATE SKIP LOCKED))
    RETURNING q.project_id, q.session_id, q.events_from
  ),
  spans AS (
    -- Every event of the session the collect saw is at or after the earlier of its stored row's
    -- start (all events at its last rebuild) and the first event that queued it since; least()
    -- skips the NULL of a session without a row yet. Only this lower bound: events that commit
    -- during the run and continue the session (the common case) are read. One that commits during
    -- the run with a time before both is read by the next run, which its arrival queues it for.
    SELECT b.project_id, b.session_id, s.session_id IS NULL AS is_new,
           least(b.events_from, s.started_at) AS events_from
    FROM batch b LEFT JOIN sessions s USING (project_id, session_id)
  ),
  built AS (
    -- One index range per session (a LATERAL subquery), never a scan of all events: the planner
    -- cannot estimate the batch's size and would otherwise hash-join every event per batch. The
    -- lower time bound lets the executor skip the older monthly partitions, which hold history.
    SELECT b.project_id, b.session_id, b.is_new, a.*
    FROM spans b
    CROSS JOIN LATERAL (
      SELECT
        (array_agg(e.user_id ORDER BY e.occurred_at DESC, e.seq DESC) FILTER (WHERE e.user_id IS NOT NULL))[1] AS user_id,
        min(e.occurred_at) AS started_at,
        max(e.occurred_at) AS ended_at,
        count(*)::int AS event_count,
        (count(*) FILTER (WHERE e.type = 'pageview'))::int AS page_count,
        coalesce(array_agg(e.path ORDER BY e.occurred_at, e.seq) FILTER (WHERE e.type = 'pageview'), '{}') AS journey_path,
        bool_or(e.type = 'conversion') AS converted,
        min(e.occurred_at) FILTER (WHERE e.type = 'session_end') AS ended_by_event_at
      FROM tracking_events e
      WHERE e.project_id = b.project_id AND e.session_id = b.session_id
        AND e.occurred_at >= b.events_from
      GROUP BY e.project_id, e.session_id
    ) a
  ),
  final AS (
    SELECT b.*,
      make_interval(mins => p.session_timeout_minutes) AS timeout,
      (b.ended_by_event_at IS NOT NULL OR b.ended_at < $1::timestamptz - make_interval(mins => p.session_timeout_minutes)) AS is_completed
    FROM built b JOIN projects p ON p.id = b.project_id
  ),
  upserted AS (
    INSERT INTO sessions AS s (project_id, session_id, user_id, status, started_at, ended_at, completed_at, duration_seconds,
      page_count, event_count, entry_page, exit_page, journey_path, bounced, converted, aggregated_at)
    SELECT f.project_id, f.session_id, f.user_id,
      CASE WHEN f.is_completed THEN 'completed' ELSE 'active' END,
      f.started_at, f.ended_at,
      CASE WHEN f.is_completed THEN coalesce(f.ended_by_event_at, f.ended_at + f.timeout) END,
      CASE WHEN f.event_count > 1 THEN extract(epoch FROM f.ended_at - f.started_at)::double precision END,
      f.page_count, f.event_count,
      f.journey_path[1], f.journey_path[cardinality(f.journey_path)], f.journey_path,
      f.page_count = 1, f.converted, $1::timestamptz
    FROM final f
    ON CONFLICT (project_id, session_id) DO UPDATE SET
      user_id = excluded.user_id, status = excluded.status, started_at = excluded.started_at, ended_at = excluded.ended_at,
      completed_at = excluded.completed_at, duration_seconds = excluded.duration_seconds, page_count = excluded.page_count,
      event_count = excluded.event_count, entry_page = excluded.entry_page, exit_page = excluded.exit_page,
      journey_path = excluded.journey_path, bounced = excluded.bounced, converted = excluded.converted,
      aggregated_at = excluded.aggregated_at
    WHERE (s.user_id, s.status, s.started_at, s.ended_at, s.completed_at, s.duration_seconds, s.page_count, s.event_count,
           s.entry_page, s.exit_page, s.journey_path, s.bounced, s.converted)
      IS DISTINCT FROM
          (excluded.user_id, excluded.status, excluded.started_at, excluded.ended_at, excluded.completed_at,
           excluded.duration_seconds, excluded.page_count, excluded.event_count, excluded.entry_page, excluded.exit_page,
           excluded.journey_path, excluded.bounced, excluded.converted)
    RETURNING s.project_id, s.session_id, s.status, s.completed_at
  ),
  handed_on AS (
    INSERT INTO session_completions (project_id, session_id, completed_at, recorded_at)
    SELECT project_id, session_id, completed_at, $1::timestamptz FROM upserted WHERE status = 'completed'
  )
  SELECT (SELECT count(*)::int FROM batch) AS taken,
    coalesce((
      SELECT json_agg(json_build_object('projectId', u.project_id, 'sessionId', u.session_id, 'status', u.status,
                                        'completedAt', u.completed_at, 'created', sp.is_new))
      FROM upserted u JOIN spans sp USING (project_id, session_id)
    ), '[]'::json) AS changed`;

/** All SQL of sessions: the aggregation (collect, sweep, rebuild) and the read side. */
@Injectable()
export class SessionsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Queues every session with events written by a transaction the previous collection's snapshot
   * could not see (all events when `full` or on the first run), with the time of the earliest of
   * those events (moving that of a session already queued earlier), and stores this statement's
   * snapshot as the new watermark — one statement, so both use the same snapshot. Events of
   * transactions still running now are invisible to it, so the next collection picks them up:
   * nothing committed late is missed, nothing is read twice.
   */
  async collect(full: boolean): Promise<{ eventsRead: number; sessionsQueued: number; lastReceivedAt: Date | null }> {
    const row = await queryOne<{ eventsRead: number; sessionsQueued: number; lastReceivedAt: Date | null }>(
      this.db,
      `WITH prev AS (
         SELECT CASE WHEN $1 THEN NULL ELSE snapshot END AS snapshot FROM session_aggregation_state WHERE id = 1
       ),
       fresh AS (
         SELECT e.project_id, e.session_id, count(*) AS events, max(e.received_at) AS last_received_at,
                min(e.occurred_at) AS events_from
         FROM tracking_events e, prev
         WHERE prev.snapshot IS NULL
            OR (e.ingest_xid >= pg_snapshot_xmin(prev.snapshot) AND NOT pg_visible_in_snapshot(e.ingest_xid, prev.snapshot))
         GROUP BY e.project_id, e.session_id
       ),
       queued AS (
         INSERT INTO session_rebuild_queue AS q (project_id, session_id, events_from)
         SELECT project_id, session_id, events_from FROM fresh
         ON CONFLICT (project_id, session_id) DO UPDATE
           SET events_from = least(q.events_from, excluded.events_from)
       ),
       saved AS (
         UPDATE session_aggregation_state SET snapshot = pg_current_snapshot(), updated_at = now() WHERE id = 1
       )
       SELECT coalesce(sum(events), 0)::int AS "eventsRead", count(*)::int AS "sessionsQueued",
              max(last_received_at) AS "lastReceivedAt"
       FROM fresh`,
      [full],
    );
    return row!;
  }

  /** Queues active sessions whose last event is now older than their project's timeout. */
  async queueTimedOut(now: Date): Promise<number> {
    const rows = await queryRows(
      this.db,
      `INSERT INTO session_rebuild_queue (project_id, session_id, events_from)
       SELECT s.project_id, s.session_id, s.started_at
       FROM sessions s JOIN projects p ON p.id = s.project_id
       WHERE s.status = 'active' AND s.ended_at < $1::timestamptz - make_interval(mins => p.session_timeout_minutes)
       ON CONFLICT DO NOTHING
       RETURNING session_id`,
      [now],
    );
    return rows.length;
  }

  /**
   * Takes up to `limit` queued sessions and rebuilds them (see REBUILD_BATCH_SQL), all in the
   * caller's transaction. Returns the sessions created or changed, and how many were taken.
   */
  async rebuildBatch(tx: Db, now: Date, limit: number): Promise<{ taken: number; changed: RebuiltSession[] }> {
    // The batch statement's cost estimate is high enough to trigger JIT compilation, which costs
    // more than it saves on a few thousand sessions.
    await execute(tx, `SET LOCAL jit = off`);
    const row = await queryOne<{ taken: number; changed: (Omit<RebuiltSession, 'completedAt'> & { completedAt: string | null })[] }>(
      tx,
      REBUILD_BATCH_SQL,
      [now, limit],
    );
    return {
      taken: row!.taken,
      changed: row!.changed.map((s) => ({ ...s, completedAt: s.completedAt === null ? null : new Date(s.completedAt) })),
    };
  }

  async queuedCount(): Promise<number> {
    const row = await queryOne<{ n: number }>(this.db, `SELECT count(*)::int AS n FROM session_rebuild_queue`);
    return row!.n;
  }

  async findOne(projectId: string, sessionId: string): Promise<SessionRow | undefined> {
    return queryOne<SessionRow>(this.db, `SELECT ${SESSION_COLUMNS} FROM sessions WHERE project_id = $1 AND session_id = $2`, [projectId, sessionId]);
  }

  /** Newest first by (started_at, session_id); `before` is the key of the previous page's last row. */
  list(projectId: string, filter: SessionFilter, limit: number, before?: { startedAt: string; sessionId: string }): Promise<SessionRow[]> {
    return queryRows<SessionRow>(
      this.db,
      `SELECT ${SESSION_COLUMNS} FROM sessions
       WHERE project_id = $1
         AND ($2::timestamptz IS NULL OR started_at >= $2)
         AND ($3::timestamptz IS NULL OR started_at < $3)
         AND ($4::text IS NULL OR status = $4)
         AND ($5::boolean IS NULL OR converted = $5)
         AND ($6::boolean IS NULL OR bounced = $6)
         AND ($7::timestamptz IS NULL OR (started_at, session_id) < ($7::timestamptz, $8::text))
       ORDER BY started_at DESC, session_id DESC
       LIMIT $9`,
      [
        projectId,
        filter.from ?? null,
        filter.to ?? null,
        filter.status ?? null,
        filter.converted ?? null,
        filter.bounced ?? null,
        before?.startedAt ?? null,
        before?.sessionId ?? null,
        limit,
      ],
    );
  }

  /** Session statistics over sessions started in [from, to); the definitions are SESSION_STATS_SQL's. */
  async stats(projectId: string, from?: Date, to?: Date) {
    const row = await queryOne<{
      sessions: number;
      completedSessions: number;
      bounceRate: number | null;
      conversionRate: number | null;
      avgDurationSeconds: number | null;
      medianDurationSeconds: number | null;
      pagesPerSession: number | null;
    }>(this.db, SESSION_STATS_SQL, [projectId, from ?? null, to ?? null]);
    return row!;
  }

  /** The most common whole journeys among sessions with at least one pageview. */
  journeyPaths(projectId: string, from: Date | undefined, to: Date | undefined, limit: number) {
    return queryRows<{ path: string[]; sessions: number; share: number }>(
      this.db,
      `WITH ranged AS (
         SELECT journey_path FROM sessions
         WHERE project_id = $1 AND page_count > 0
           AND ($2::timestamptz IS NULL OR started_at >= $2) AND ($3::timestamptz IS NULL OR started_at < $3)
       )
       SELECT journey_path AS path, count(*)::int AS sessions,
              count(*)::double precision / sum(count(*)) OVER () AS share
       FROM ranged
       GROUP BY journey_path
       ORDER BY sessions DESC, journey_path
       LIMIT $4`,
      [projectId, from ?? null, to ?? null, limit],
    );
  }

  /**
   * Page-to-page steps of journeys: (null → entry page), each consecutive pair, (exit page → null),
   * counted as the number of sessions that made the step at least once.
   */
  journeyTransitions(projectId: string, from: Date | undefined, to: Date | undefined, limit: number) {
    return queryRows<{ from: string | null; to: string | null; sessions: number }>(
      this.db,
      `WITH ranged AS (
         SELECT session_id, journey_path FROM sessions
         WHERE project_id = $1 AND page_count > 0
           AND ($2::timestamptz IS NULL OR started_at >= $2) AND ($3::timestamptz IS NULL OR started_at < $3)
       ),
       steps AS (
         SELECT r.session_id,
                CASE WHEN i = 1 THEN NULL ELSE r.journey_path[i - 1] END AS from_page,
                CASE WHEN i > cardinality(r.journey_path) THEN NULL ELSE r.journey_path[i] END AS to_page
         FROM ranged r, generate_series(1, cardinality(r.journey_path) + 1) AS i
       )
       SELECT from_page AS "from", to_page AS "to", count(DISTINCT session_id)::int AS sessions
       FROM steps
       GROUP BY from_page, to_page
       ORDER BY sessions DESC, from_page NULLS FIRST, to_page NULLS LAST
       LIMIT $4`,
      [projectId, from ?? null, to ?? null, limit],
    );
  }
}
