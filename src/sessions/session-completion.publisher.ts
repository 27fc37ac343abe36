import { Injectable, Logger } from '@nestjs/common';

/** A session the aggregation has just marked completed (or rebuilt with changes while completed). */
export interface CompletedSession {
  projectId: string;
  sessionId: string;
  completedAt: Date;
}

/** Implemented by whoever acts on completed sessions (the session-metrics pipeline). */
export interface SessionCompletionListener {
  onSessionsCompleted(sessions: CompletedSession[]): Promise<void>;
}

/**
 * The extension point where completed sessions are handed on. The aggregation calls `publish`
 * after each batch commits, with the sessions that became completed in it — including completed
 * sessions whose late events changed them, so their metrics are computed again. A hand-on that
 * failed (or never happened: a crash after the batch's commit) is caught up by the session-metrics
 * sweep, which finds completed sessions without current metrics in `sessions` itself.
 *
 * Subscribe from another module's `onModuleInit`: `publisher.subscribe(this)`.
 */
@Injectable()
export class SessionCompletionPublisher {
  private readonly logger = new Logger(SessionCompletionPublisher.name);
  private readonly listeners: SessionCompletionListener[] = [];

  subscribe(listener: SessionCompletionListener): void {
    this.listeners.push(listener);
  }

  /** Never throws: a failing listener is logged, and the aggregation run goes on. */
  async publish(sessions: CompletedSession[]): Promise<void> {
    if (!sessions.length) return;
    for (const listener of this.listeners) {
      try {
        await listener.onSessionsCompleted(sessions);
      } catch (error) {
        this.logger.error(
          { err: error, sessions: sessions.length },
          'session completion listener failed; the session-metrics sweep will hand these sessions on',
        );
      }
    }
  }
}
