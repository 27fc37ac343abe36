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
    // extra_float_digits = 1 (PostgreSQL's default, set in case a server changes it): doubles as
    // text are their shortest exact form, which exactSumSql relies on
    extra: { max: options.poolSize ?? 10, options: '-c extra_float_digits=1' },
  };
}

export function createDataSource(options: DatabaseOptions): DataSource {
  return new DataSource(dataSourceOptions(options));
}
