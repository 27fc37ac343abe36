import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The incremental metrics compute found its changed source rows by fingerprinting every source row
 * (1.1 million in the benchmark) against `metrics_source_state`: most of an incremental run. Now
 * every statement that writes `sessions`, `session_metrics` or `kpi_events` also writes the keys
 * of the rows it inserted, updated or deleted into `metrics_source_change`, in the writer's own
 * transaction (statement-level triggers over the transition tables: one INSERT … SELECT per
 * statement, whatever the writer — the aggregation, the metrics pipeline, onboarding, a cascade
 * from `projects`, a hand edit). A key becomes visible to the compute's snapshot exactly when the
 * change it names does, so a change committed late by a concurrent transaction is neither missed
 * nor read early; the compute fingerprints only the logged rows and deletes the log rows it saw.
 * An update logs its old and new keys (a key that changes moves its row to another entity); a
 * TRUNCATE, which names no rows, logs every counted key of the source, so they are all found gone.
 *
 * Changes made before this migration that no compute has counted yet are unknown to the log: it
 * starts with every source key and every counted key, so the next run compares them all once.
 */
export class MetricsSourceChangeLog1764000670000 implements MigrationInterface {
  name = 'MetricsSourceChangeLog1764000670000';

  async up(db: QueryRunner): Promise<void> {
    // No key and no index: writers only append, the compute reads and deletes it all.
    await db.query(`
      CREATE TABLE metrics_source_change (
        project_id  uuid NOT NULL,
        source      text NOT NULL CHECK (source IN ('session', 'kpi_event')),
        entity_key  text NOT NULL
      )`);
    // A session's entity covers its sessions row and its session_metrics row (the same key).
    await db.query(`
      CREATE FUNCTION metrics_log_session_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key)
          SELECT project_id, source, entity_key FROM metrics_source_state WHERE source = 'session';
        ELSIF TG_OP = 'INSERT' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key) SELECT project_id, 'session', session_id FROM new_rows;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key) SELECT project_id, 'session', session_id FROM old_rows;
        ELSE
          INSERT INTO metrics_source_change (project_id, source, entity_key)
          SELECT project_id, 'session', session_id FROM new_rows UNION SELECT project_id, 'session', session_id FROM old_rows;
        END IF;
        RETURN NULL;
      END $$`);
    await db.query(`
      CREATE FUNCTION metrics_log_kpi_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key)
          SELECT project_id, source, entity_key FROM metrics_source_state WHERE source = 'kpi_event';
        ELSIF TG_OP = 'INSERT' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key) SELECT project_id, 'kpi_event', id::text FROM new_rows;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO metrics_source_change (project_id, source, entity_key) SELECT project_id, 'kpi_event', id::text FROM old_rows;
        ELSE
          INSERT INTO metrics_source_change (project_id, source, entity_key)
          SELECT project_id, 'kpi_event', id::text FROM new_rows UNION SELECT project_id, 'kpi_event', id::text FROM old_rows;
        END IF;
        RETURN NULL;
      END $$`);
    // A trigger with transition tables serves one event: three per table.
    for (const [table, fn] of [
      ['sessions', 'metrics_log_session_change'],
      ['session_metrics', 'metrics_log_session_change'],
      ['kpi_events', 'metrics_log_kpi_event_change'],
    ]) {
      await db.query(`CREATE TRIGGER ${table}_metrics_insert AFTER INSERT ON ${table}
                      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
      await db.query(`CREATE TRIGGER ${table}_metrics_update AFTER UPDATE ON ${table}
                      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
      await db.query(`CREATE TRIGGER ${table}_metrics_delete AFTER DELETE ON ${table}
                      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
      await db.query(`CREATE TRIGGER ${table}_metrics_truncate AFTER TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
    }
    await db.query(`
      INSERT INTO metrics_source_change (project_id, source, entity_key)
      SELECT project_id, 'session', session_id FROM sessions
      UNION ALL SELECT project_id, 'kpi_event', id::text FROM kpi_events
      UNION ALL SELECT project_id, source, entity_key FROM metrics_source_state`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['sessions', 'session_metrics', 'kpi_events']) {
      for (const event of ['insert', 'update', 'delete', 'truncate']) await db.query(`DROP TRIGGER ${table}_metrics_${event} ON ${table}`);
    }
    await db.query(`DROP FUNCTION metrics_log_kpi_event_change()`);
    await db.query(`DROP FUNCTION metrics_log_session_change()`);
    await db.query(`DROP TABLE metrics_source_change`);
  }
}
