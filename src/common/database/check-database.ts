import { DataSource, MigrationExecutor } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions.js';
import type { AppConfig } from '../config/config.js';
import { StartupError, redactUrl } from '../errors/startup-error.js';
import { dataSourceOptions } from './data-source.js';

export interface CheckDatabaseOptions {
  /** Connection attempts before giving up (a database that is still starting gets a moment). */
  attempts?: number;
  retryDelayMs?: number;
  onRetry?: (attempt: number, error: unknown) => void;
}

/**
 * Before the app is built: the database answers, and when MIGRATIONS_RUN=false its schema is
 * current. Either failure is a StartupError naming the variable to fix, instead of a connection
 * error or `relation "…" does not exist` from deep inside the start-up.
 */
export async function checkDatabase(url: string, config: AppConfig, options: CheckDatabaseOptions = {}): Promise<void> {
  const { attempts = 4, retryDelayMs = 1000 } = options;
  const dataSource = new DataSource({
    ...(dataSourceOptions({ url, poolSize: 1, applicationName: 'trailmark-start-check' }) as PostgresDataSourceOptions),
    connectTimeoutMS: 10_000,
  });
  for (let attempt = 1; !dataSource.isInitialized; attempt++) {
    try {
      await dataSource.initialize();
    } catch (error) {
      if (attempt >= attempts || !mayPass(error)) throw unreachable(url, config, error);
      options.onRetry?.(attempt, error);
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
    }
  }
  try {
    if (config.migrationsRun) return;
    const pending = await new MigrationExecutor(dataSource).getPendingMigrations();
    if (pending.length > 0) {
      throw new StartupError(
        'MIGRATIONS_RUN',
        `MIGRATIONS_RUN=false but the database schema is ${pending.length === dataSource.migrations.length ? 'missing' : 'behind'} ` +
          `(${pending.length} of ${dataSource.migrations.length} migrations not applied, first ${pending[0].name}): ` +
          'run `npm run migration:run` on this database, or start once with MIGRATIONS_RUN=true',
      );
    }
  } finally {
    await dataSource.destroy().catch(() => undefined);
  }
}

/** Wrong credentials (SQLSTATE class 28) and a missing database (3D000) will not mend with a retry. */
function mayPass(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return !(typeof code === 'string' && /^(28|3D)/.test(code));
}

function unreachable(url: string, config: AppConfig, error: unknown): StartupError {
  if (!config.databaseUrl) {
    return new StartupError('DATA_DIR', 'The embedded PostgreSQL under DATA_DIR started but does not answer', { cause: error });
  }
  return new StartupError('DATABASE_URL', `Cannot connect to PostgreSQL at DATABASE_URL=${redactUrl(url)}`, { cause: error });
}
