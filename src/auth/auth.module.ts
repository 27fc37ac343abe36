/**
 * API keys and the access guard every route passes through. The admin key comes from
 * ADMIN_API_KEY (or the generated file) and is provided by the app module.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ProjectsModule } from '../projects/projects.module.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';
import { ADMIN_API_KEY, AuthService } from './auth.service.js';

@Module({})
export class AuthModule {
  static forRoot(adminApiKey: string): DynamicModule {
    return {
      module: AuthModule,
      imports: [ProjectsModule],
      controllers: [ApiKeysController],
      providers: [
        { provide: ADMIN_API_KEY, useValue: adminApiKey },
        AuthService,
        ApiKeysRepository,
        ApiKeysService,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
      ],
      exports: [AuthService],
    };
  }
}
