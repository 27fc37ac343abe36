import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Onboarding steps and completions, the KPI event outbox written with each completion, the
 * recorded KPI analytics events, and the idempotency keys of the completion endpoint.
 */
export class Onboarding1764000300000 implements MigrationInterface {
  name = 'Onboarding1764000300000';

  async up(db: QueryRunner): Promise<void> {
    // A project's own step list. A project without rows here uses the default steps 1–5 (see
    // src/onboarding/kpi.constants.ts); kpi_id may be NULL, which makes that step's KPI event fail
    // until an operator maps it.
    await db.query(`
      CREATE TABLE onboarding_steps (
        project_id  uuid     NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        step        integer  NOT NULL CHECK (step BETWEEN 1 AND 100),
        name        text     NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        kpi_id      text     CHECK (kpi_id ~ '^kpi\\.[a-z0-9_]+(\\.[a-z0-9_]+)*$'),
        PRIMARY KEY (project_id, step)
      )`);

    // One row per user and step: the primary key is what makes a completion happen once.
    await db.query(`
      CREATE TABLE onboarding_completions (
        project_id    uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        user_id       text        NOT NULL CHECK (length(user_id) BETWEEN 1 AND 128),
        step          integer     NOT NULL,
        source        text,
        metadata      jsonb       NOT NULL DEFAULT '{}'::jsonb,
        completed_at  timestamptz NOT NULL,
        kpi_event_id  uuid        NOT NULL,
        PRIMARY KEY (project_id, user_id, step)
      )`);

    // The transactional outbox: written in the completion's transaction, so the intent to record
    // a KPI event exists exactly when the completion does. status says whether the event reached
    // kpi_events (recorded) or not yet (pending, failed + failure_reason); kpi-event-retry works
    // the failed ones.
    await db.query(`
      CREATE TABLE kpi_event_outbox (
        project_id       uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        event_id         uuid        NOT NULL,
        user_id          text        NOT NULL,
        step             integer     NOT NULL,
        kpi_id           text,
        occurred_at      timestamptz NOT NULL,
        metadata         jsonb       NOT NULL,
        status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'recorded', 'failed')),
        failure_reason   text,
        attempts         integer     NOT NULL DEFAULT 0,
        last_attempt_at  timestamptz,
        recorded_at      timestamptz,
        PRIMARY KEY (project_id, event_id),
        UNIQUE (project_id, user_id, step),
        FOREIGN KEY (project_id, user_id, step) REFERENCES onboarding_completions (project_id, user_id, step) ON DELETE CASCADE
      )`);
    await db.query(`CREATE INDEX kpi_event_outbox_failed_idx ON kpi_event_outbox (last_attempt_at) WHERE status <> 'recorded'`);
    await db.query(`CREATE INDEX kpi_event_outbox_list_idx ON kpi_event_outbox (project_id, occurred_at, event_id)`);

    // The recorded leading-KPI analytics events: append-only, one per outbox row (same id).
    await db.query(`
      CREATE TABLE kpi_events (
        project_id   uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id           uuid        NOT NULL,
        kpi_id       text        NOT NULL,
        user_id      text        NOT NULL,
        occurred_at  timestamptz NOT NULL,
        metadata     jsonb       NOT NULL,
        recorded_at  timestamptz NOT NULL,
        PRIMARY KEY (project_id, id)
      )`);
    await db.query(`CREATE INDEX kpi_events_kpi_time_idx ON kpi_events (project_id, occurred_at, kpi_id)`);

    // The first answer given for an Idempotency-Key, and a fingerprint of the request it answered.
    await db.query(`
      CREATE TABLE idempotency_keys (
        project_id   uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        key          text        NOT NULL,
        fingerprint  text        NOT NULL,
        response     jsonb,
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, key)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE idempotency_keys`);
    await db.query(`DROP TABLE kpi_events`);
    await db.query(`DROP TABLE kpi_event_outbox`);
    await db.query(`DROP TABLE onboarding_completions`);
    await db.query(`DROP TABLE onboarding_steps`);
  }
}
