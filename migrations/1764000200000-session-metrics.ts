import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-session quality metrics (spec §3) and the record of every metrics pipeline attempt.
 * Definitions of each column: docs/session-metrics.md.
 */
export class SessionMetrics1764000200000 implements MigrationInterface {
  name = 'SessionMetrics1764000200000';

  async up(db: QueryRunner): Promise<void> {
    // One row per session; recomputation upserts. `session_aggregated_at` is the sessions row's
    // aggregated_at the metrics were computed from: a later aggregation (late events) makes the
    // row stale, and the sweep hands the session on again. Comparing the session's own stamp
    // (not computed_at) keeps staleness immune to clock differences between replicas.
    await db.query(`
      CREATE TABLE session_metrics (
        project_id              uuid             NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        session_id              text             NOT NULL,
        time_to_first_draft_ms  bigint           CHECK (time_to_first_draft_ms >= 0),
        completion_rate         double precision CHECK (completion_rate BETWEEN 0 AND 1),
        confirmation_rate       double precision CHECK (confirmation_rate >= 0),
        signal_density          double precision NOT NULL CHECK (signal_density >= 0),
        dropped_off             boolean          NOT NULL,
        drop_off_step           text,
        session_aggregated_at   timestamptz      NOT NULL,
        computed_at             timestamptz      NOT NULL,
        PRIMARY KEY (project_id, session_id),
        CHECK (dropped_off = (drop_off_step IS NOT NULL))
      )`);

    // One row per attempt at one session (a batch job of 100 sessions writes 100 rows).
    await db.query(`
      CREATE TABLE pipeline_runs (
        project_id     uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id             uuid        NOT NULL DEFAULT gen_random_uuid(),
        session_id     text        NOT NULL,
        status         text        NOT NULL CHECK (status IN ('succeeded', 'failed')),
        error_code     text,
        error_message  text,
        attempt        integer     NOT NULL CHECK (attempt >= 1),
        job_id         text,
        started_at     timestamptz NOT NULL,
        finished_at    timestamptz NOT NULL,
        duration_ms    integer     NOT NULL CHECK (duration_ms >= 0),
        PRIMARY KEY (project_id, id),
        CHECK ((status = 'failed') = (error_code IS NOT NULL))
      )`);
    await db.query(`CREATE INDEX pipeline_runs_started_idx ON pipeline_runs (project_id, started_at DESC, id DESC)`);
    await db.query(`CREATE INDEX pipeline_runs_session_idx ON pipeline_runs (project_id, session_id, started_at DESC, id DESC)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE pipeline_runs`);
    await db.query(`DROP TABLE session_metrics`);
  }
}
