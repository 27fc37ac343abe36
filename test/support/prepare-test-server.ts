import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { startEmbeddedPostgres, withDatabase } from '../../src/common/database/embedded-postgres.js';
import { createDataSource } from '../../src/common/database/data-source.js';

declare global {
  var __trailmarkTestTeardown: (() => Promise<void>) | undefined;
}

/** Starts (or connects to) the test server and builds the migrated template database once. */
export async function prepareTestServer(): Promise<void> {
  let url = process.env.TEST_DATABASE_URL;
  let stopServer = async () => undefined as void;
  if (!url) {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'trailmark-test-pg-'));
    await chmod(dataDir, 0o755); // the server runs as the unprivileged postgres user when we are root
    const port = 55000 + Math.floor(Math.random() * 4000);
    const server = await startEmbeddedPostgres({ dataDir, port });
    url = server.url;
    stopServer = () => server.stop();
  }
  const runId = randomBytes(4).toString('hex');
  const template = `trailmark_template_${runId}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const version = await admin.query<{ server_version: string }>('SHOW server_version');
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(template)}`);
  await admin.end();

  const templateUrl = withDatabase(url, template);
  const dataSource = createDataSource({ url: templateUrl, poolSize: 2 });
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await dataSource.destroy();
  // pg-boss installs its schema on first start; doing it here saves every test file the work.
  const boss = new PgBoss({ connectionString: templateUrl, schema: 'pgboss', supervise: false, schedule: false });
  boss.on('error', () => undefined);
  await boss.start();
  await boss.stop({ graceful: false, close: true });

  process.env.TRAILMARK_TEST_SERVER_URL = url;
  process.env.TRAILMARK_TEST_TEMPLATE_DB = template;
  process.env.TRAILMARK_TEST_RUN_ID = runId;
  console.log(`\ntests use PostgreSQL ${version.rows[0].server_version} (${process.env.TEST_DATABASE_URL ? 'TEST_DATABASE_URL' : 'embedded'})`);

  globalThis.__trailmarkTestTeardown = async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const leftovers = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`, [
      template,
      `trailmark\\_test\\_${runId}\\_%`,
    ]);
    for (const { datname } of leftovers.rows) {
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
    }
    await client.end();
    await stopServer();
  };
}
