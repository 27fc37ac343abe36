import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import type { ComputedSessionMetrics, SessionForMetrics } from './session-metrics.repository.js';

/**
 * Checks the data going into and coming out of the metrics statement that neither the schema nor
 * the SQL can express, and names each problem. A session failing these gets SESSION_DATA_INVALID
 * and no metrics row: storing a figure computed from inconsistent data would be silent garbage.
 */
@Injectable()
export class SessionMetricsVerifier {
  /** Problems with the loaded session (step 2 → 3). Empty when it can be computed. */
  checkSession(session: SessionForMetrics): string[] {
    const problems: string[] = [];
    if (!session.startedAt) problems.push('started_at is missing');
    if (!session.endedAt) problems.push('ended_at is missing');
    if (!session.aggregatedAt) problems.push('aggregated_at is missing');
    if (session.startedAt && session.endedAt && session.endedAt < session.startedAt) {
      problems.push(`ended_at (${session.endedAt.toISOString()}) is before started_at (${session.startedAt.toISOString()})`);
    }
    if (session.durationSeconds !== null && !(Number.isFinite(session.durationSeconds) && session.durationSeconds >= 0)) {
      problems.push(`duration_seconds is ${session.durationSeconds}; it must be null or a non-negative number`);
    }
    if (session.eventCount !== null && session.eventCount < 1) {
      problems.push(`event_count is ${session.eventCount}; a session has at least one event`);
    }
    if (session.converted === null) problems.push('converted is missing');
    return problems;
  }

  /** Problems with the computed metrics (step 3 → 4). Empty when they may be stored. */
  checkMetrics(metrics: ComputedSessionMetrics): string[] {
    const problems: string[] = [];
    if (metrics.eventsRead < 1) problems.push('the session has no events in tracking_events');
    if (metrics.unnamedStepEvents > 0) {
      problems.push(`${metrics.unnamedStepEvents} step event(s) have no step name`);
    }
    if (metrics.timeToFirstDraftMs !== null && !(Number.isFinite(metrics.timeToFirstDraftMs) && metrics.timeToFirstDraftMs >= 0)) {
      problems.push(`time_to_first_draft_ms is ${metrics.timeToFirstDraftMs}: a draft_created event precedes the session start`);
    }
    checkRate(problems, 'completion_rate', metrics.completionRate, 1);
    // The spec defines the confirmation rate as a plain ratio: more confirmations than drafts
    // (e.g. a draft confirmed twice) gives a rate above 1, which is reported, not capped.
    checkRate(problems, 'confirmation_rate', metrics.confirmationRate, Number.POSITIVE_INFINITY);
    if (!(Number.isFinite(metrics.signalDensity) && metrics.signalDensity >= 0)) {
      problems.push(`signal_density is ${metrics.signalDensity}; it must be a non-negative number`);
    }
    if (typeof metrics.droppedOff !== 'boolean') problems.push('dropped_off is missing');
    if (metrics.droppedOff !== (metrics.dropOffStep !== null)) {
      problems.push(`drop_off_step (${metrics.dropOffStep}) must be set exactly when dropped_off (${metrics.droppedOff})`);
    }
    return problems;
  }

  /** The error for a session with problems. */
  invalid(sessionId: string, problems: string[]): AppError {
    return new AppError('SESSION_DATA_INVALID', `Session "${sessionId}": ${problems.join('; ')}.`, {
      extensions: { sessionId, problems },
    });
  }
}

function checkRate(problems: string[], name: string, value: number | null, max: number): void {
  if (value === null) return;
  if (!(Number.isFinite(value) && value >= 0 && value <= max)) {
    problems.push(`${name} is ${value}; it must be ${max === 1 ? 'within [0, 1]' : 'a non-negative number'}`);
  }
}
