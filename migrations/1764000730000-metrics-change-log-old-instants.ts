import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The metrics compute kept `metrics_source_state`: per source row (1.1 million in the benchmark)
 * the instant it was last counted at and a fingerprint of its counted columns, to find the OLD
 * bucket of a row that moved and to skip writes that changed nothing it counts. Writing that state
 * was a fifth of a full rebuild (5 s of 23), and the table held a row per source row for ever.
 *
 * The change log now carries what the state was kept for, written by the writer's own statement:
 * - `old_at`: the instant that bucketed the row before the change (the old `started_at` of an
 *   updated or deleted session, the old `occurred_at` of a KPI event). The first unconsumed change
 *   of a row saw the value the last compute counted, so the old instants of the unconsumed log rows
 *   include every instant the row was counted at; its current instant the compute looks up itself.
 * - an update logs a row only where a counted column changed (the columns below, the same the
 *   fingerprint hashed), so metrics recomputed to the same values affect nothing; an update of a
 *   row's key (a hand edit) logs the old key gone, with its instant, and the new key new.
 * - a TRUNCATE logs every row of the table before it goes (BEFORE TRUNCATE), as a DELETE would.
 * A session's metrics are bucketed by their session's start: their log rows name the key only, and
 * a move of the session is logged by the session's own row.
 *
 * The log rows written before this migration have no old instants, and the state goes: the
 * recorded definition is cleared, so the next compute rebuilds in full (and consumes them).
 */
export class MetricsChangeLogOldInstants1764000730000 implements MigrationInterface {
  name = 'MetricsChangeLogOldInstants1764000730000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE metrics_source_state`);
    await db.query(`DELETE FROM metrics_compute_state`);
    await db.query(`DELETE FROM metrics_source_change`);
    await db.query(`ALTER TABLE metrics_source_change ADD COLUMN old_at timestamptz`);

    await db.query(`
      CREATE OR REPLACE FUNCTION metrics_log_session_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key, old_at) SELECT project_id, 'session', session_id, started_at FROM sessions;
        ELSIF TG_OP = 'INSERT' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key) SELECT project_id, 'session', session_id FROM new_rows;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key, old_at) SELECT project_id, 'session', session_id, started_at FROM old_rows;
        ELSE
          -- a row whose key changed is the old key gone (with its instant) and the new key new
          INSERT INTO metrics_source_change (project_id, source, entity_key, old_at)
          SELECT coalesce(o.project_id, n.project_id), 'session', coalesce(o.session_id, n.session_id), o.started_at
          FROM old_rows o FULL JOIN new_rows n ON n.project_id = o.project_id AND n.session_id = o.session_id
          WHERE (o.status, o.started_at, o.duration_seconds, o.page_count, o.bounced, o.converted, o.entry_page, o.exit_page)
                IS DISTINCT FROM (n.status, n.started_at, n.duration_seconds, n.page_count, n.bounced, n.converted, n.entry_page, n.exit_page)
             OR o.session_id IS NULL OR n.session_id IS NULL;
        END IF;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE FUNCTION metrics_log_session_metrics_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key) SELECT project_id, 'session', session_id FROM session_metrics;
        ELSIF TG_OP = 'INSERT' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key) SELECT project_id, 'session', session_id FROM new_rows;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key) SELECT project_id, 'session', session_id FROM old_rows;
        ELSE
          INSERT INTO metrics_source_change (project_id, source, entity_key)
          SELECT coalesce(o.project_id, n.project_id), 'session', coalesce(o.session_id, n.session_id)
          FROM old_rows o FULL JOIN new_rows n ON n.project_id = o.project_id AND n.session_id = o.session_id
          WHERE (o.time_to_first_draft_ms, o.completion_rate, o.confirmation_rate, o.signal_density, o.dropped_off, o.drop_off_step)
                IS DISTINCT FROM (n.time_to_first_draft_ms, n.completion_rate, n.confirmation_rate, n.signal_density, n.dropped_off, n.drop_off_step)
             OR o.session_id IS NULL OR n.session_id IS NULL;
        END IF;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE OR REPLACE FUNCTION metrics_log_kpi_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key, old_at) SELECT project_id, 'kpi_event', id::text, occurred_at FROM kpi_events;
        ELSIF TG_OP = 'INSERT' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key) SELECT project_id, 'kpi_event', id::text FROM new_rows;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key, old_at) SELECT project_id, 'kpi_event', id::text, occurred_at FROM old_rows;
        ELSE
          INSERT INTO metrics_source_change (project_id, source, entity_key, old_at)
          SELECT coalesce(o.project_id, n.project_id), 'kpi_event', coalesce(o.id, n.id)::text, o.occurred_at
          FROM old_rows o FULL JOIN new_rows n ON n.project_id = o.project_id AND n.id = o.id
          WHERE (o.kpi_id, o.user_id, o.occurred_at, o.metadata) IS DISTINCT FROM (n.kpi_id, n.user_id, n.occurred_at, n.metadata)
             OR o.id IS NULL OR n.id IS NULL;
        END IF;
        RETURN NULL;
      END $$`);
    for (const event of ['insert', 'update', 'delete', 'truncate'])
      await db.query(`DROP TRIGGER session_metrics_metrics_${event} ON session_metrics`);
    await this.createTriggers(db, 'session_metrics', 'metrics_log_session_metrics_change', 'BEFORE');
    for (const [table, fn] of [
      ['sessions', 'metrics_log_session_change'],
      ['kpi_events', 'metrics_log_kpi_event_change'],
    ]) {
      await db.query(`DROP TRIGGER ${table}_metrics_truncate ON ${table}`);
      await db.query(`CREATE TRIGGER ${table}_metrics_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
    }
  }

  /** The log triggers of one table (a trigger with transition tables serves one event). */
  private async createTriggers(db: QueryRunner, table: string, fn: string, truncateTiming: 'BEFORE' | 'AFTER'): Promise<void> {
    await db.query(`CREATE TRIGGER ${table}_metrics_insert AFTER INSERT ON ${table}
                    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
    await db.query(`CREATE TRIGGER ${table}_metrics_update AFTER UPDATE ON ${table}
                    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
    await db.query(`CREATE TRIGGER ${table}_metrics_delete AFTER DELETE ON ${table}
                    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
    await db.query(`CREATE TRIGGER ${table}_metrics_truncate ${truncateTiming} TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
  }

  /**
   * Back to migration 1764000670000's triggers (keys only, AFTER TRUNCATE from the state) and an
   * empty state: the recorded definition is cleared, so the next compute rebuilds it in full.
   */
  async down(db: QueryRunner): Promise<void> {
    for (const event of ['insert', 'update', 'delete', 'truncate'])
      await db.query(`DROP TRIGGER session_metrics_metrics_${event} ON session_metrics`);
    await db.query(`DROP FUNCTION metrics_log_session_metrics_change()`);
    await db.query(`
      CREATE TABLE metrics_source_state (
        project_id   uuid        NOT NULL,
        source       text        NOT NULL CHECK (source IN ('session', 'kpi_event')),
        entity_key   text        NOT NULL,
        counted_at   timestamptz NOT NULL,
        fingerprint  text        NOT NULL,
        PRIMARY KEY (project_id, source, entity_key)
      )`);
    for (const [fn, source, key] of [
      ['metrics_log_session_change', 'session', 'session_id'],
      ['metrics_log_kpi_event_change', 'kpi_event', 'id::text'],
    ]) {
      await db.query(`
        CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'TRUNCATE' THEN
            INSERT INTO metrics_source_change (project_id, source, entity_key)
            SELECT project_id, source, entity_key FROM metrics_source_state WHERE source = '${source}';
          ELSIF TG_OP = 'INSERT' THEN
            INSERT INTO metrics_source_change (project_id, source, entity_key) SELECT project_id, '${source}', ${key} FROM new_rows;
          ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO metrics_source_change (project_id, source, entity_key) SELECT project_id, '${source}', ${key} FROM old_rows;
          ELSE
            INSERT INTO metrics_source_change (project_id, source, entity_key)
            SELECT project_id, '${source}', ${key} FROM new_rows UNION SELECT project_id, '${source}', ${key} FROM old_rows;
          END IF;
          RETURN NULL;
        END $$`);
    }
    await this.createTriggers(db, 'session_metrics', 'metrics_log_session_change', 'AFTER');
    for (const [table, fn] of [
      ['sessions', 'metrics_log_session_change'],
      ['kpi_events', 'metrics_log_kpi_event_change'],
    ]) {
      await db.query(`DROP TRIGGER ${table}_metrics_truncate ON ${table}`);
      await db.query(`CREATE TRIGGER ${table}_metrics_truncate AFTER TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
    }
    await db.query(`ALTER TABLE metrics_source_change DROP COLUMN old_at`);
    await db.query(`DELETE FROM metrics_compute_state`);
  }
}
