import path from 'node:path';
import type { AppConfig } from '../config/config.js';
import { StartupError, describeCause } from '../errors/startup-error.js';
import { ensureDatabase, startEmbeddedPostgres } from './embedded-postgres.js';

export interface ResolvedDatabase {
  url: string;
  embedded: boolean;
  /** Stops the embedded server; a no-op for an external one. */
  stop(): Promise<void>;
}

/**
 * DATABASE_URL when set; else the embedded PostgreSQL under DATA_DIR, database `trailmark`. A server
 * that cannot start is a StartupError naming EMBEDDED_POSTGRES_PORT or DATA_DIR.
 */
export async function resolveDatabase(config: AppConfig, log: (line: string) => void): Promise<ResolvedDatabase> {
  if (config.databaseUrl) {
    return { url: config.databaseUrl, embedded: false, stop: async () => undefined };
  }
  let server;
  try {
    server = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort, onLog: log });
  } catch (error) {
    throw embeddedStartupError(config, error);
  }
  try {
    const url = await ensureDatabase(server.url, 'trailmark');
    return { url, embedded: true, stop: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw new StartupError(
      'DATA_DIR',
      `The embedded PostgreSQL under DATA_DIR=${path.resolve(config.dataDir)} started but its database cannot be used`,
      {
        cause: error,
      },
    );
  }
}

const FILE_SYSTEM_CODES = new Set(['EACCES', 'EPERM', 'EEXIST', 'ENOTDIR', 'EROFS', 'ENOSPC', 'EISDIR', 'ELOOP', 'ENAMETOOLONG']);

function embeddedStartupError(config: AppConfig, error: unknown): StartupError {
  const dataDir = path.resolve(config.dataDir);
  const port = config.embeddedPostgresPort;
  const message = describeCause(error);
  if (/Address already in use|could not create any TCP\/IP sockets/.test(message)) {
    return new StartupError(
      'EMBEDDED_POSTGRES_PORT',
      `EMBEDDED_POSTGRES_PORT=${port} is in use by another program, so the embedded PostgreSQL cannot listen on it: set EMBEDDED_POSTGRES_PORT to a free port, or DATABASE_URL to use your own PostgreSQL`,
      { cause: error },
    );
  }
  if (/lock file "postmaster\.pid" already exists/.test(message)) {
    return new StartupError(
      'DATA_DIR',
      `DATA_DIR=${dataDir} is in use: another PostgreSQL (another Trailmark?) is running on its data; stop it or set another DATA_DIR`,
      { cause: error },
    );
  }
  if (FILE_SYSTEM_CODES.has((error as NodeJS.ErrnoException).code ?? '')) {
    return new StartupError('DATA_DIR', `DATA_DIR=${dataDir} is not a writable directory: the embedded PostgreSQL keeps its data there`, {
      cause: error,
    });
  }
  return new StartupError('DATA_DIR', `The embedded PostgreSQL under DATA_DIR=${dataDir} (port ${port}) did not start`, { cause: error });
}
