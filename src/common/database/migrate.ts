/**
 * `npm run migration:run` / `npm run migration:revert`: applies or reverts migrations against
 * DATABASE_URL, or against the embedded PostgreSQL under DATA_DIR when it is unset.
 */
import { loadConfig } from '../config/config.js';
import { StartupError } from '../errors/startup-error.js';
import { createDataSource } from './data-source.js';
import { resolveDatabase } from './resolve-database.js';

async function main(): Promise<void> {
  const command = process.argv[2];
  if (command !== 'run' && command !== 'revert') {
    console.error('usage: migrate.js run|revert');
    process.exit(2);
  }
  const config = loadConfig();
  const database = await resolveDatabase(config, (line) => console.log(line.trimEnd()));
  const dataSource = createDataSource({ url: database.url, poolSize: 2, applicationName: 'trailmark-migrate' });
  try {
    await dataSource.initialize();
    if (command === 'run') {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      console.log(applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}` : 'nothing to apply');
    } else {
      await dataSource.undoLastMigration({ transaction: 'each' });
      console.log('reverted the last migration');
    }
  } finally {
    await dataSource.destroy().catch(() => undefined);
    await database.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof StartupError ? error.message : error);
  process.exit(1);
});
