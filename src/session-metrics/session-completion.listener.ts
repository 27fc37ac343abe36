import { Injectable, type OnModuleInit } from '@nestjs/common';
import { SessionCompletionPublisher, type CompletedSession, type SessionCompletionListener } from '../sessions/session-completion.publisher.js';
import { SessionMetricsService, sessionIdsByProject } from './session-metrics.service.js';

/**
 * The event-driven trigger of the metrics pipeline: every session the aggregation newly marks
 * completed (or rebuilds while completed) is handed to the durable queue. If this hand-off fails,
 * the publisher logs it and the sweep job picks the sessions up later.
 */
@Injectable()
export class SessionCompletionListenerForMetrics implements SessionCompletionListener, OnModuleInit {
  constructor(
    private readonly publisher: SessionCompletionPublisher,
    private readonly sessionMetrics: SessionMetricsService,
  ) {}

  onModuleInit(): void {
    this.publisher.subscribe(this);
  }

  async onSessionsCompleted(sessions: CompletedSession[]): Promise<void> {
    for (const [projectId, sessionIds] of sessionIdsByProject(sessions)) await this.sessionMetrics.enqueueCompleted(projectId, sessionIds);
  }
}
