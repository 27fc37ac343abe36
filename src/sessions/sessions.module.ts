/**
 * Sessions: the `session-aggregation` job that rebuilds sessions from events, the read API
 * (sessions, stats, journeys), and SessionCompletionPublisher, where completed sessions are handed on.
 */
import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module.js';
import { SessionAggregationJob } from './session-aggregation.job.js';
import { SessionAggregationService } from './session-aggregation.service.js';
import { SessionCompletionPublisher } from './session-completion.publisher.js';
import { SessionsController } from './sessions.controller.js';
import { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';

@Module({
  imports: [EventsModule],
  controllers: [SessionsController],
  providers: [SessionsService, SessionsRepository, SessionAggregationService, SessionAggregationJob, SessionCompletionPublisher],
  exports: [SessionsService, SessionAggregationService, SessionCompletionPublisher],
})
export class SessionsModule {}
