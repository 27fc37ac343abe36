import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '../config/config.js';
import { dataSourceOptions } from './data-source.js';
import { TypeOrmLogger } from './typeorm-logger.js';

/** TypeORM on PostgreSQL; migrations run at start unless MIGRATIONS_RUN=false. */
export function databaseModule(config: AppConfig, databaseUrl: string) {
  return TypeOrmModule.forRoot({
    ...dataSourceOptions({ url: databaseUrl, poolSize: config.databasePoolSize }),
    migrationsRun: config.migrationsRun,
    logger: new TypeOrmLogger(),
    autoLoadEntities: true,
    retryAttempts: 3,
    retryDelay: 1000,
  });
}
