import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The definition (catalogue and fingerprinted columns) the read model was last fully rebuilt with.
 * An incremental run only looks at the source keys writers logged, so a release that changes what
 * is counted (a new KPI id in the catalogue, a newly read column) would otherwise never reach rows
 * written before it: the compute rebuilds in full when the stored definition differs from its own.
 */
export class MetricsComputeDefinition1764000710000 implements MigrationInterface {
  name = 'MetricsComputeDefinition1764000710000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE metrics_compute_state (
        id          smallint    PRIMARY KEY CHECK (id = 1),
        definition  text        NOT NULL,
        updated_at  timestamptz NOT NULL
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE metrics_compute_state`);
  }
}
