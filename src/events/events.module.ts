/** Event ingestion: the tracking_events table (partitioned by month), dedup by client event id. */
import { Module } from '@nestjs/common';
import { EventPartitionsService } from './event-partitions.service.js';
import { EventsController } from './events.controller.js';
import { EventsRepository } from './events.repository.js';
import { EventsService } from './events.service.js';

@Module({
  controllers: [EventsController],
  providers: [EventsService, EventsRepository, EventPartitionsService],
  exports: [EventPartitionsService],
})
export class EventsModule {}
