/**
 * Test databases: one PostgreSQL server per run (TEST_DATABASE_URL, else an embedded one), one
 * migrated template database, and a fresh clone of it (CREATE DATABASE … TEMPLATE) per test file.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { withDatabase } from '../../src/common/database/embedded-postgres.js';

export function serverUrl(): string {
  const url = process.env.TRAILMARK_TEST_SERVER_URL;
  if (!url) throw new Error('The test database server is not set up (jest globalSetup did not run)');
  return url;
}

export function templateDatabase(): string {
  const name = process.env.TRAILMARK_TEST_TEMPLATE_DB;
  if (!name) throw new Error('The template database is not set up (jest globalSetup did not run)');
  return name;
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh database: a clone of the migrated template, or empty with `{ empty: true }`. */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const run = process.env.TRAILMARK_TEST_RUN_ID ?? 'x';
  const name = `trailmark_test_${run}_${randomBytes(5).toString('hex')}`;
  const template = options.empty ? 'template0' : templateDatabase();
  await adminQuery(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`);
  return {
    name,
    url: withDatabase(serverUrl(), name),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
  };
}
