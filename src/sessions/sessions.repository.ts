import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { execute, queryOne, queryRows, type Db } from '../common/database/sql.js';
import type { CompletedSession } from './session-completion.publisher.js';
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

/** What one batch of the aggregation did; `completed` are the sessions to hand on. */
export interface BatchResult {
  taken: number;
  eventsRead: number;
  created: number;
  updated: number;
  completed: CompletedSession[];
}

/** A session's key: batches of the full pass go through the sessions in this order. */
export interface SessionKey {
  projectId: string;
  sessionId: string;
}

/** A key range of a full pass: the sessions after `after`, up to and including `until` (null: to the last one). */
export interface PassPart {
  part: number;
  after: SessionKey;
  until: SessionKey | null;
}

/** A part row `p`'s range as PassPart's `after` and `until` (SessionKey JSON). */
const PART_RANGE_SQL = `
  json_build_object('projectId', p.after_project, 'sessionId', p.after_session) AS after,
  CASE WHEN p.until_project IS NOT NULL THEN json_build_object('projectId', p.until_project, 'sessionId', p.until_session) END AS until`;

/** Sorts before every session: session ids are at least one character long. */
export const FIRST_SESSION_KEY: SessionKey = { projectId: '00000000-0000-0000-0000-000000000000', sessionId: '' };

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
 * A session's figures from ALL its events `e`, grouped by (project_id, session_id). The definitions
 * of spec §3 live here and in SESSION_UPSERT_SQL, nowhere else:
 * - events ordered by (occurred_at, seq): client time, ties in order of arrival;
 * - page_count = pageviews; journey_path = their paths in order;
 * - converted = any `conversion` event;
 * - user_ids: the non-null user ids in that order; user_id = the last (a visitor who logs in
 *   mid-session is that user).
 * Both arrays are ordered alike, so PostgreSQL 16+ feeds the groups presorted — the index order —
 * instead of sorting each group once per array.
 */
const SESSION_EVENT_AGGREGATES = `
  array_agg(e.user_id ORDER BY e.occurred_at, e.seq) FILTER (WHERE e.user_id IS NOT NULL) AS user_ids,
  min(e.occurred_at) AS started_at,
  max(e.occurred_at) AS ended_at,
  count(*)::int AS event_count,
  (count(*) FILTER (WHERE e.type = 'pageview'))::int AS page_count,
  coalesce(array_agg(e.path ORDER BY e.occurred_at, e.seq) FILTER (WHERE e.type = 'pageview'), '{}') AS journey_path,
  bool_or(e.type = 'conversion') AS converted,
  min(e.occurred_at) FILTER (WHERE e.type = 'session_end') AS ended_by_event_at`;

/**
 * The sessions rows of `built` (project_id, session_id, is_new: no row before this statement, and
 * the columns of SESSION_EVENT_AGGREGATES) at $1, the run's time. The rest of spec §3:
 * - duration = last − first event in seconds, null for a single event;
 * - entry/exit = first/last page of the journey; bounced = page_count = 1;
 * - completed when there is a session_end event, or the last event is older than the project's
 *   timeout at $1; completed_at = the first session_end's time, else last event + timeout.
 */
const SESSION_ROWS_SQL = `
  SELECT b.project_id, b.session_id, b.user_ids[cardinality(b.user_ids)],
    CASE WHEN c.is_completed THEN 'completed' ELSE 'active' END,
    b.started_at, b.ended_at,
    CASE WHEN c.is_completed THEN coalesce(b.ended_by_event_at, b.ended_at + t.timeout) END,
    CASE WHEN b.event_count > 1 THEN extract(epoch FROM b.ended_at - b.started_at)::double precision END,
    b.page_count, b.event_count,
    b.journey_path[1], b.journey_path[cardinality(b.journey_path)], b.journey_path,
    b.page_count = 1, b.converted, $1::timestamptz
  FROM built b
  JOIN batch_projects p ON p.id = b.project_id
  CROSS JOIN LATERAL (SELECT make_interval(mins => p.session_timeout_minutes) AS timeout) t
  CROSS JOIN LATERAL (SELECT b.ended_by_event_at IS NOT NULL OR b.ended_at < $1::timestamptz - t.timeout AS is_completed) c`;

const SESSION_COLUMNS_WRITTEN = `(project_id, session_id, user_id, status, started_at, ended_at, completed_at, duration_seconds,
  page_count, event_count, entry_page, exit_page, journey_path, bounced, converted, aggregated_at)`;

/**
 * The `upserted` CTE: SESSION_ROWS_SQL written, new sessions by a plain insert (a third cheaper
 * than an insert that checks for a conflict first), the others only where their content changed,
 * so a rerun with nothing new touches nothing. Every row it returns was created or changed.
 * is_new is exact because batches take BATCH_LOCK_SQL first: no other batch can commit a row for
 * the same session between this statement's snapshot and its insert.
 */
const SESSION_UPSERT_SQL = `
  batch_projects AS (
    -- Locked once per project and batch, as the foreign key checked them once per row: a project
    -- deleted before this lock gets no sessions here, one deleted after it waits for this batch
    -- to commit, and its trigger then deletes what the batch wrote.
    SELECT id, session_timeout_minutes FROM projects WHERE id IN (SELECT project_id FROM built) FOR KEY SHARE
  ),
  inserted AS (
    INSERT INTO sessions ${SESSION_COLUMNS_WRITTEN}
    ${SESSION_ROWS_SQL}
    WHERE b.is_new
    RETURNING project_id, session_id, status, completed_at
  ),
  updated AS (
    INSERT INTO sessions AS s ${SESSION_COLUMNS_WRITTEN}
    ${SESSION_ROWS_SQL}
    WHERE NOT b.is_new
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
  upserted AS (
    SELECT * FROM inserted UNION ALL SELECT * FROM updated
  )`;

/**
 * A batch's BatchResult, from `built`, `inserted` and `updated`; `taken` counts the rows of
 * `takenFrom` (the queue rows taken, which include sessions without events and so without a
 * `built` row). The completed sessions come as one row per project with their ids and completion
 * times (epoch milliseconds) side by side: a JSON object per session cost 12–15 ms per 5,000
 * sessions to build, and as much again to parse.
 */
const batchResultSql = (takenFrom: 'batch' | 'built') => `
  SELECT (SELECT count(*)::int FROM ${takenFrom}) AS taken,
    (SELECT coalesce(sum(event_count), 0)::int FROM built) AS "eventsRead",
    (SELECT count(*)::int FROM inserted) AS created,
    (SELECT count(*)::int FROM updated) AS updated,
    (SELECT coalesce(json_agg(c), '[]'::json) FROM (
       SELECT project_id AS "projectId", array_agg(session_id) AS "sessionIds",
              array_agg(floor(extract(epoch FROM completed_at) * 1000)::bigint) AS "completedAt"
       FROM upserted WHERE status = 'completed' GROUP BY project_id) c) AS completed`;

/**
 * A batch of the incremental path: takes up to $2 queued sessions off the queue and rebuilds each
 * from ALL its events.
 */
const REBUILD_QUEUED_SQL = `
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
      SELECT ${SESSION_EVENT_AGGREGATES}
      FROM tracking_events e
      WHERE e.project_id = b.project_id AND e.session_id = b.session_id
        AND e.occurred_at >= b.events_from
      GROUP BY e.project_id, e.session_id
    ) a
  ),
  ${SESSION_UPSERT_SQL}
  ${batchResultSql('batch')}`;

/**
 * A batch of a full pass's part: the next $4 sessions in key order after ($2, $3) — up to and
 * including ($5, $6) when the part has an end — each built from ALL its events, read in the order
 * of the (project_id, session_id, occurred_at, seq) index: the plan of a plain GROUP BY over the
 * events, stopped after $4 groups. The end is an index bound too, so a part's last batch stops at it.
 */
const rebuildRangeSql = (bounded: boolean) => `
  WITH grouped AS (
    SELECT e.project_id, e.session_id, ${SESSION_EVENT_AGGREGATES}, max(e.received_at) AS last_received_at
    FROM tracking_events e
    WHERE (e.project_id, e.session_id) > ($2::uuid, $3::text)
      ${bounded ? 'AND (e.project_id, e.session_id) <= ($5::uuid, $6::text)' : ''}
    GROUP BY e.project_id, e.session_id
    ORDER BY e.project_id, e.session_id
    LIMIT $4
  ),
  last AS (
    SELECT project_id, session_id FROM grouped ORDER BY project_id DESC, session_id DESC LIMIT 1
  ),
  range_stored AS MATERIALIZED (
    -- Whether any session row exists in the batch's key range: none on a first pass, which then
    -- skips the 5,000 lookups of sessions that are not there. One step of the primary key index:
    -- the first stored key after the batch's start, if it is not past the batch's last key.
    SELECT coalesce((
      SELECT (s.project_id, s.session_id) <= (l.project_id, l.session_id) FROM sessions s
      WHERE (s.project_id, s.session_id) > ($2::uuid, $3::text)
      ORDER BY s.project_id, s.session_id LIMIT 1
    ), false) AS any
    FROM last l
  ),
  built AS (
    SELECT g.*,
           CASE WHEN r.any
             THEN NOT EXISTS (SELECT 1 FROM sessions s WHERE s.project_id = g.project_id AND s.session_id = g.session_id)
             ELSE true
           END AS is_new
    FROM grouped g CROSS JOIN range_stored r
  ),
  ${SESSION_UPSERT_SQL}
  SELECT r.*, (SELECT project_id FROM last) AS "lastProjectId", (SELECT session_id FROM last) AS "lastSessionId",
    (SELECT max(last_received_at) FROM grouped) AS "lastReceivedAt"
  FROM (${batchResultSql('built')}) r`;
const REBUILD_RANGE_SQL = rebuildRangeSql(false);
const REBUILD_BOUNDED_RANGE_SQL = rebuildRangeSql(true);

/**
 * Serialises batches that could write the same session (see startBatch): taken exclusively by the
 * queue's batches and by the start of a full pass, and shared by the batches of a full pass's parts,
 * which are disjoint ranges of one pass and run side by side.
 */
export const BATCH_LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtext('session-aggregation batch'))`;
const SHARED_BATCH_LOCK_SQL = `SELECT pg_advisory_xact_lock_shared(hashtext('session-aggregation batch'))`;

type BatchRow = Omit<BatchResult, 'completed'> & { completed: { projectId: string; sessionIds: string[]; completedAt: number[] }[] };

function toBatchResult(row: BatchRow): BatchResult {
  const completed = row.completed.flatMap(({ projectId, sessionIds, completedAt }) =>
    sessionIds.map((sessionId, i) => ({ projectId, sessionId, completedAt: new Date(completedAt[i]) })),
  );
  return { ...row, completed };
}

/** All SQL of sessions: the aggregation (collect, sweep, rebuild) and the read side. */
@Injectable()
export class SessionsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * The aggregation's state: the watermark (the snapshot of the last collection, null before the
   * first run) and the full pass a run began and did not finish (its snapshot and its parts not yet
   * finished, each from after the last key it rebuilt), or null.
   */
  async state(): Promise<{ watermark: string | null; unfinishedPass: { snapshot: string; parts: PassPart[] } | null }> {
    const row = await queryOne<{ watermark: string | null; pass: string | null; parts: PassPart[] }>(
      this.db,
      `SELECT snapshot::text AS watermark, full_pass_snapshot::text AS pass,
              coalesce((SELECT json_agg(r ORDER BY r.part)
                        FROM (SELECT p.part, ${PART_RANGE_SQL} FROM session_aggregation_pass_part p WHERE NOT p.finished) r), '[]'::json) AS parts
       FROM session_aggregation_state WHERE id = 1`,
    );
    return { watermark: row?.watermark ?? null, unfinishedPass: row?.pass ? { snapshot: row.pass, parts: row.parts } : null };
  }

  /** A snapshot taken now: every event it can see is visible to every later statement. */
  async currentSnapshot(): Promise<string> {
    const row = await queryOne<{ snapshot: string }>(this.db, `SELECT pg_current_snapshot()::text AS snapshot`);
    return row!.snapshot;
  }

  /**
   * Keys that cut the sessions into about `count` parts of as many events each, in key order: the
   * last key of each of the first count − 1 tiles of a sample of the events (the rows where the
   * next row's tile differs; one sort serves both windows). The sample is some 100 blocks (SYSTEM
   * sampling reads whole blocks: 10 ms), so a small table is read whole and cut exactly. Fewer keys
   * come back when a session's events span a whole tile, or there are fewer sessions than parts.
   */
  async partBoundaries(count: number): Promise<SessionKey[]> {
    if (count <= 1) return [];
    const [{ blocks }] = await queryRows<{ blocks: number }>(
      this.db,
      `SELECT coalesce(sum(pg_relation_size(i.inhrelid)), 0)::float8 / current_setting('block_size')::int AS blocks
       FROM pg_inherits i WHERE i.inhparent = 'tracking_events'::regclass`,
    );
    const percent = Math.min(100, (100 * 100) / Math.max(blocks, 1));
    return queryRows<SessionKey>(
      this.db,
      `SELECT DISTINCT project_id AS "projectId", session_id AS "sessionId"
       FROM (SELECT project_id, session_id, tile, lead(tile) OVER (ORDER BY project_id, session_id) AS next_tile
             FROM (SELECT project_id, session_id, ntile($1) OVER (ORDER BY project_id, session_id) AS tile
                   FROM tracking_events TABLESAMPLE SYSTEM ($2)) t) s
       WHERE next_tile <> tile
       ORDER BY 1, 2`,
      [count, percent],
    );
  }

  /**
   * Records a full pass beginning with `snapshot` (the watermark it stores at its end), before its
   * first session, cut into parts at `boundaries` (ascending keys; none: one part). Under the batch
   * lock taken exclusively: once it commits, no batch of an older pass is writing, and none starts
   * (a part's batch stops when its pass is no longer the recorded one).
   */
  async beginFullPass(snapshot: string, boundaries: SessionKey[] = []): Promise<PassPart[]> {
    const parts: PassPart[] = [FIRST_SESSION_KEY, ...boundaries].map((after, part) => ({ part, after, until: boundaries[part] ?? null }));
    await this.db.transaction(async (tx) => {
      await execute(tx, BATCH_LOCK_SQL);
      await execute(tx, `UPDATE session_aggregation_state SET full_pass_snapshot = $1::pg_snapshot WHERE id = 1`, [snapshot]);
      await execute(tx, `DELETE FROM session_aggregation_pass_part`);
      await execute(
        tx,
        `INSERT INTO session_aggregation_pass_part (part, after_project, after_session, until_project, until_session)
         SELECT * FROM unnest($1::int[], $2::uuid[], $3::text[], $4::uuid[], $5::text[])`,
        [
          parts.map((p) => p.part),
          parts.map((p) => p.after.projectId),
          parts.map((p) => p.after.sessionId),
          parts.map((p) => p.until?.projectId ?? null),
          parts.map((p) => p.until?.sessionId ?? null),
        ],
      );
    });
    return parts;
  }

  /**
   * Ends the full pass begun with `snapshot` once all its parts are finished: that snapshot becomes
   * the watermark. Only that pass's own end does it: a run that overlapped it (taken over after a
   * stall) and ends later, with an older pass or none recorded any more, changes nothing, so the
   * watermark never moves back.
   */
  async finishFullPass(snapshot: string): Promise<boolean> {
    const rows = await queryRows(
      this.db,
      `UPDATE session_aggregation_state
       SET snapshot = $1::pg_snapshot, updated_at = now(), full_pass_snapshot = NULL
       WHERE id = 1 AND full_pass_snapshot::text = $1 AND NOT EXISTS (SELECT 1 FROM session_aggregation_pass_part WHERE NOT finished)
       RETURNING id`,
      [snapshot],
    );
    return rows.length > 0;
  }

  /**
   * Queues every session with events written by a transaction the previous collection's snapshot
   * could not see, with the time of the earliest of those events (moving that of a session already
   * queued earlier), and stores this statement's snapshot as the new watermark — one statement, so
   * both use the same snapshot. Events of transactions still running now are invisible to it, so
   * the next collection picks them up: nothing committed late is missed, nothing is read twice.
   * Needs a watermark: before the first run, the full pass reads everything instead.
   */
  async collect(): Promise<{ eventsRead: number; sessionsQueued: number; lastReceivedAt: Date | null }> {
    const row = await queryOne<{ eventsRead: number; sessionsQueued: number; lastReceivedAt: Date | null }>(
      this.db,
      `WITH prev AS (
         SELECT snapshot FROM session_aggregation_state WHERE id = 1 AND snapshot IS NOT NULL
       ),
       fresh AS (
         SELECT e.project_id, e.session_id, count(*) AS events, max(e.received_at) AS last_received_at,
                min(e.occurred_at) AS events_from
         FROM tracking_events e, prev
         WHERE e.ingest_xid >= pg_snapshot_xmin(prev.snapshot) AND NOT pg_visible_in_snapshot(e.ingest_xid, prev.snapshot)
         GROUP BY e.project_id, e.session_id
       ),
       queued AS (
         INSERT INTO session_rebuild_queue AS q (project_id, session_id, events_from)
         SELECT project_id, session_id, events_from FROM fresh
         ON CONFLICT (project_id, session_id) DO UPDATE
           SET events_from = least(q.events_from, excluded.events_from)
       ),
       saved AS (
         UPDATE session_aggregation_state SET snapshot = pg_current_snapshot(), updated_at = now()
         WHERE id = 1 AND EXISTS (SELECT 1 FROM prev)
       )
       SELECT coalesce(sum(events), 0)::int AS "eventsRead", count(*)::int AS "sessionsQueued",
              max(last_received_at) AS "lastReceivedAt"
       FROM fresh`,
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

  /** Takes up to `limit` queued sessions and rebuilds them (REBUILD_QUEUED_SQL) in the caller's transaction. */
  async rebuildQueued(tx: Db, now: Date, limit: number): Promise<BatchResult> {
    await this.startBatch(tx);
    return toBatchResult((await queryOne<BatchRow>(tx, REBUILD_QUEUED_SQL, [now, limit]))!);
  }

  /**
   * Rebuilds the next `limit` sessions of part `part` of the full pass `pass` (REBUILD_RANGE_SQL),
   * from the part's stored cursor, in the caller's transaction, and moves the cursor past them, or
   * marks the part finished when fewer than `limit` were left: a pass cut off resumes each part
   * after its last batch that committed. Returns null, having written nothing, when `pass` is no
   * longer the recorded pass: a newer one began (a `full` run), or another run that resumed it has
   * finished it; either way this run's part in it is over.
   */
  async rebuildRange(
    tx: Db,
    now: Date,
    part: number,
    limit: number,
    pass: string,
  ): Promise<(BatchResult & { finished: boolean; lastReceivedAt: Date | null }) | null> {
    await this.startBatch(tx, 'shared');
    // The part's row, locked: a second run working the same pass (it resumed the pass while a
    // stalled run still goes on) waits here for this batch to commit, then reads the cursor this
    // batch moved and goes on after it. Two batches never build the same sessions side by side,
    // where both would take them for new and one would fail on the primary key.
    const range = await queryOne<{ after: SessionKey; until: SessionKey | null; finished: boolean }>(
      tx,
      `SELECT ${PART_RANGE_SQL}, p.finished
       FROM session_aggregation_state s JOIN session_aggregation_pass_part p ON p.part = $2
       WHERE s.id = 1 AND s.full_pass_snapshot::text = $1
       FOR UPDATE OF p`,
      [pass, part],
    );
    if (!range) return null;
    if (range.finished) return { taken: 0, eventsRead: 0, created: 0, updated: 0, completed: [], finished: true, lastReceivedAt: null };
    // PostgreSQL estimates the row comparison on the key to match about one row, so it would read
    // every event after the key and sort them all (to disk: 0.85 s per batch on 1M events) instead
    // of walking the index in key order and stopping after `limit` sessions (40 ms).
    await execute(tx, `SET LOCAL enable_sort = off`);
    const { after, until } = range;
    const row = (await queryOne<BatchRow & { lastProjectId: string | null; lastSessionId: string | null; lastReceivedAt: Date | null }>(
      tx,
      until ? REBUILD_BOUNDED_RANGE_SQL : REBUILD_RANGE_SQL,
      until ? [now, after.projectId, after.sessionId, limit, until.projectId, until.sessionId] : [now, after.projectId, after.sessionId, limit],
    ))!;
    const { lastProjectId, lastSessionId, lastReceivedAt, ...result } = row;
    const finished = result.taken < limit;
    await execute(
      tx,
      `UPDATE session_aggregation_pass_part
       SET after_project = coalesce($2, after_project), after_session = coalesce($3, after_session), finished = $4
       WHERE part = $1`,
      [part, lastProjectId, lastSessionId, finished],
    );
    return { ...toBatchResult(result), lastReceivedAt, finished };
  }

  /**
   * First in every batch transaction: waits for any batch that could write the same sessions to
   * commit (BATCH_LOCK_SQL), so the batch statement's snapshot sees every session row written
   * before it. And the batch statements' cost estimates are high enough to trigger JIT
   * compilation, which costs more than it saves on a few thousand sessions.
   */
  private async startBatch(tx: Db, lock: 'exclusive' | 'shared' = 'exclusive'): Promise<void> {
    await execute(tx, lock === 'shared' ? SHARED_BATCH_LOCK_SQL : BATCH_LOCK_SQL);
    await execute(tx, `SET LOCAL jit = off`);
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
