import { DataSource, type DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../../migrations/index.js';

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
}

/** Options shared by the service, the migration CLI and the tests. `synchronize` is never on. */
export function dataSourceOptions(options: DatabaseOptions): DataSourceOptions {
  return {
    type: 'postgres',
    url: options.url,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    applicationName: options.applicationName ?? 'trailmark',
    extra: { max: options.poolSize ?? 10 },
  };
}

export function createDataSource(options: DatabaseOptions): DataSource {
  return new DataSource(dataSourceOptions(options));
}
