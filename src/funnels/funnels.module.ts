/** Funnels: the built-in shop funnel, custom definitions, and the in-order stage report. */
import { Module } from '@nestjs/common';
import { FunnelsController } from './funnels.controller.js';
import { FunnelsRepository } from './funnels.repository.js';
import { FunnelsService } from './funnels.service.js';

@Module({
  controllers: [FunnelsController],
  providers: [FunnelsService, FunnelsRepository],
})
export class FunnelsModule {}
