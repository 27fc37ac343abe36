import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Raw tracking events (range-partitioned by occurred_at, one partition per UTC month plus a
 * DEFAULT safety net), the dedup keys of client event ids, sessions aggregated from events, the
 * aggregation's watermark and work queue, the record of sessions handed on as completed, and
 * custom funnel definitions.
 */
export class TrackingEventsAndSessions1764000100000 implements MigrationInterface {
  name = 'TrackingEventsAndSessions1764000100000';

  async up(db: QueryRunner): Promise<void> {
    // `seq` is the order of arrival (ties of occurred_at keep it). `ingest_xid` is the inserting
    // transaction: the aggregation's watermark is a snapshot, and "new since the last run" means
    // "written by a transaction the last run's snapshot could not see" (see docs/sessions.md).
    // No primary key: (project_id, event_id) is enforced by tracking_event_ids, because a unique
    // key of a partitioned table would have to include occurred_at and so could not dedup.
    await db.query(`CREATE SEQUENCE tracking_events_seq AS bigint`);
    await db.query(`
      CREATE TABLE tracking_events (
        project_id   uuid        NOT NULL,
        event_id     uuid        NOT NULL,
        session_id   text        NOT NULL CHECK (length(session_id) BETWEEN 1 AND 128),
        user_id      text        CHECK (length(user_id) <= 128),
        type         text        NOT NULL,
        name         text        CHECK (length(name) <= 128),
        url          text        CHECK (length(url) <= 2048),
        path         text,
        referrer     text        CHECK (length(referrer) <= 2048),
        occurred_at  timestamptz NOT NULL,
        received_at  timestamptz NOT NULL,
        properties   jsonb       NOT NULL DEFAULT '{}'::jsonb,
        seq          bigint      NOT NULL DEFAULT nextval('tracking_events_seq'),
        ingest_xid   xid8        NOT NULL DEFAULT pg_current_xact_id()
      ) PARTITION BY RANGE (occurred_at)`);
    await db.query(`ALTER SEQUENCE tracking_events_seq OWNED BY tracking_events.seq`);
    await db.query(`CREATE INDEX tracking_events_session_idx ON tracking_events (project_id, session_id, occurred_at, seq)`);
    await db.query(`CREATE INDEX tracking_events_ingest_xid_idx ON tracking_events (ingest_xid)`);
    // Only rows whose month partition could not be created land here; inserts never fail for lack of one.
    await db.query(`CREATE TABLE tracking_events_default PARTITION OF tracking_events DEFAULT`);

    await db.query(`
      CREATE TABLE tracking_event_ids (
        project_id  uuid NOT NULL,
        event_id    uuid NOT NULL,
        PRIMARY KEY (project_id, event_id)
      )`);

    await db.query(`
      CREATE TABLE sessions (
        project_id        uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        session_id        text        NOT NULL,
        user_id           text,
        status            text        NOT NULL CHECK (status IN ('active', 'completed')),
        started_at        timestamptz NOT NULL,
        ended_at          timestamptz NOT NULL,
        completed_at      timestamptz,
        duration_seconds  double precision,
        page_count        integer     NOT NULL,
        event_count       integer     NOT NULL,
        entry_page        text,
        exit_page         text,
        journey_path      text[]      NOT NULL,
        bounced           boolean     NOT NULL,
        converted         boolean     NOT NULL,
        aggregated_at     timestamptz NOT NULL,
        PRIMARY KEY (project_id, session_id)
      )`);
    await db.query(`CREATE INDEX sessions_started_idx ON sessions (project_id, started_at DESC, session_id DESC)`);
    await db.query(`CREATE INDEX sessions_active_idx ON sessions (project_id, ended_at) WHERE status = 'active'`);

    // The snapshot of the last collection: events written by transactions it could not see are new.
    await db.query(`
      CREATE TABLE session_aggregation_state (
        id          smallint    PRIMARY KEY CHECK (id = 1),
        snapshot    pg_snapshot,
        updated_at  timestamptz
      )`);
    await db.query(`INSERT INTO session_aggregation_state (id) VALUES (1)`);
    // Sessions waiting to be rebuilt; survives a crashed run, so the next run finishes the work.
    await db.query(`
      CREATE TABLE session_rebuild_queue (
        project_id  uuid NOT NULL,
        session_id  text NOT NULL,
        PRIMARY KEY (project_id, session_id)
      )`);
    // Every hand-on of a completed session (again after a rebuild that changed it).
    await db.query(`
      CREATE TABLE session_completions (
        project_id    uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id            bigserial,
        session_id    text        NOT NULL,
        completed_at  timestamptz NOT NULL,
        recorded_at   timestamptz NOT NULL,
        PRIMARY KEY (project_id, id)
      )`);
    await db.query(`CREATE INDEX session_completions_session_idx ON session_completions (project_id, session_id)`);

    await db.query(`
      CREATE TABLE funnels (
        project_id  uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id          uuid        NOT NULL DEFAULT gen_random_uuid(),
        name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        steps       jsonb       NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        PRIMARY KEY (project_id, id)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE funnels`);
    await db.query(`DROP TABLE session_completions`);
    await db.query(`DROP TABLE session_rebuild_queue`);
    await db.query(`DROP TABLE session_aggregation_state`);
    await db.query(`DROP TABLE sessions`);
    await db.query(`DROP TABLE tracking_event_ids`);
    await db.query(`DROP TABLE tracking_events`);
  }
}
