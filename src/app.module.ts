import type { Writable } from 'node:stream';
import { Module, type DynamicModule } from '@nestjs/common';
import { AuthModule } from './auth/auth.module.js';
import { ClockModule } from './common/clock/clock.js';
import { ConfigModule } from './common/config/config.module.js';
import type { AppConfig } from './common/config/config.js';
import { databaseModule } from './common/database/database.module.js';
import { loggingModule } from './common/logging/logging.module.js';
import { ObservabilityModule } from './common/observability/observability.module.js';
import { DATABASE_URL } from './common/queue/queue.service.js';
import { JobsModule } from './jobs/jobs.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { EventsModule } from './events/events.module.js';
import { FunnelsModule } from './funnels/funnels.module.js';
import { OnboardingModule } from './onboarding/onboarding.module.js';
import { OperationalMetricsCollectorModule, OperationalMetricsModule } from './operational-metrics/operational-metrics.module.js';
import { ProjectsModule } from './projects/projects.module.js';
import { SessionsModule } from './sessions/sessions.module.js';
import { SessionMetricsModule } from './session-metrics/session-metrics.module.js';

export interface AppModuleOptions {
  config: AppConfig;
  databaseUrl: string;
  adminApiKey: string;
  /** Where the JSON log lines go (default: standard output). */
  logDestination?: Writable;
}

@Module({})
export class AppModule {
  static forRoot({ config, databaseUrl, adminApiKey, logDestination }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseUrlModule.forRoot(databaseUrl),
        loggingModule(config, logDestination),
        databaseModule(config, databaseUrl),
        ClockModule,
        ObservabilityModule,
        OperationalMetricsCollectorModule,
        JobsModule,
        ProjectsModule,
        EventsModule,
        SessionsModule,
        FunnelsModule,
        AuthModule.forRoot(adminApiKey),
        OnboardingModule,
        OperationalMetricsModule,
        SessionMetricsModule,
        MetricsModule,
      ],
    };
  }
}

@Module({})
class DatabaseUrlModule {
  static forRoot(url: string): DynamicModule {
    return { module: DatabaseUrlModule, global: true, providers: [{ provide: DATABASE_URL, useValue: url }], exports: [DATABASE_URL] };
  }
}
