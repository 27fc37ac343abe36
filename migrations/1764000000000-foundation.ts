import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Tenancy (projects, API keys) and the record of every job run. */
export class Foundation1764000000000 implements MigrationInterface {
  name = 'Foundation1764000000000';

  // Timestamps that page lists are kept to the millisecond, the precision of the ISO strings the
  // API and its cursors carry, so a cursor names exactly the row it came from.
  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE projects (
        id                       uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        name                     text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        timezone                 text        NOT NULL DEFAULT 'UTC',
        session_timeout_minutes  integer     NOT NULL DEFAULT 30 CHECK (session_timeout_minutes BETWEEN 1 AND 1440),
        created_at               timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
      )`);
    await db.query(`CREATE INDEX projects_created_at_idx ON projects (created_at, id)`);

    // A key is `tm_<prefix>_<secret>`: the prefix finds the row, the secret's SHA-256 is compared
    // in constant time. Secrets are 256 random bits, so a fast hash is enough (no password KDF).
    await db.query(`
      CREATE TABLE api_keys (
        project_id   uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id           uuid        NOT NULL DEFAULT gen_random_uuid(),
        name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        prefix       text        NOT NULL,
        secret_hash  bytea       NOT NULL,
        scopes       text[]      NOT NULL CHECK (scopes <@ ARRAY['ingest', 'read', 'admin']::text[] AND cardinality(scopes) > 0),
        created_at   timestamptz NOT NULL DEFAULT now(),
        revoked_at   timestamptz,
        PRIMARY KEY (project_id, id),
        UNIQUE (project_id, prefix)
      )`);
    await db.query(`CREATE INDEX api_keys_prefix_idx ON api_keys (prefix) WHERE revoked_at IS NULL`);

    await db.query(`
      CREATE TABLE job_runs (
        id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        job_name       text        NOT NULL,
        trigger        text        NOT NULL CHECK (trigger IN ('schedule', 'manual')),
        status         text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        scheduled_for  timestamptz,
        params         jsonb       NOT NULL DEFAULT '{}'::jsonb,
        counts         jsonb       NOT NULL DEFAULT '{}'::jsonb,
        error          text,
        created_at     timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
        started_at     timestamptz,
        finished_at    timestamptz,
        duration_ms    integer,
        heartbeat_at   timestamptz
      )`);
    await db.query(`CREATE INDEX job_runs_job_created_idx ON job_runs (job_name, created_at DESC, id DESC)`);
    // One run per scheduled slot, whichever replica's cron fires first ...
    await db.query(`CREATE UNIQUE INDEX job_runs_schedule_slot_uq ON job_runs (job_name, scheduled_for) WHERE scheduled_for IS NOT NULL`);
    // ... and at most one run of a job in flight at a time.
    await db.query(`CREATE UNIQUE INDEX job_runs_in_flight_uq ON job_runs (job_name) WHERE status IN ('queued', 'running')`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE job_runs`);
    await db.query(`DROP TABLE api_keys`);
    await db.query(`DROP TABLE projects`);
  }
}
