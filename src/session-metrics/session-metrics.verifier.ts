import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';

/** A timestamp as JavaScript's toISOString writes it (UTC, milliseconds), for problem texts. */
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * Checks the data going into and coming out of the metrics statement that neither the schema nor
 * the SQL can express, and names each problem. A session failing these gets SESSION_DATA_INVALID
 * and no metrics row: storing a figure computed from inconsistent data would be silent garbage.
 *
 * The checks are SQL expressions (each yields the `text[]` of problems of one row, empty when it
 * is fine), the one definition of each rule: a batch is checked inside the statements that load
 * and store it, so a 1000-session batch neither ships its rows to the service and back nor parses
 * their timestamps only to compare them, and only the problems travel.
 */
@Injectable()
export class SessionMetricsVerifier {
  /** Problems with the loaded session (step 2 → 3), over a `sessions` row aliased `s`. */
  static readonly SESSION_PROBLEMS_SQL = `array_remove(ARRAY[
    CASE WHEN s.started_at IS NULL THEN 'started_at is missing' END,
    CASE WHEN s.ended_at IS NULL THEN 'ended_at is missing' END,
    CASE WHEN s.aggregated_at IS NULL THEN 'aggregated_at is missing' END,
    CASE WHEN s.ended_at < s.started_at
         THEN format('ended_at (%s) is before started_at (%s)', ${iso('s.ended_at')}, ${iso('s.started_at')}) END,
    CASE WHEN NOT (s.duration_seconds >= 0 AND s.duration_seconds < 'Infinity')
         THEN format('duration_seconds is %s; it must be null or a non-negative number', s.duration_seconds) END,
    CASE WHEN s.event_count < 1 THEN format('event_count is %s; a session has at least one event', s.event_count) END,
    CASE WHEN s.converted IS NULL THEN 'converted is missing' END
  ], NULL)`;

  /**
   * Problems with the computed metrics (step 3 → 4), over a row `m` of the metrics statement
   * (its output names). NaN and ±Infinity fail every range check.
   */
  static readonly METRICS_PROBLEMS_SQL = `array_remove(ARRAY[
    CASE WHEN m."eventsRead" < 1 THEN 'the session has no events in tracking_events' END,
    CASE WHEN m."unnamedStepEvents" > 0 THEN format('%s step event(s) have no step name', m."unnamedStepEvents") END,
    CASE WHEN NOT (m."timeToFirstDraftMs" >= 0 AND m."timeToFirstDraftMs" < 'Infinity')
         THEN format('time_to_first_draft_ms is %s: a draft_created event precedes the session start', m."timeToFirstDraftMs") END,
    CASE WHEN NOT (m."completionRate" >= 0 AND m."completionRate" <= 1)
         THEN format('completion_rate is %s; it must be within [0, 1]', m."completionRate") END,
    -- The spec defines the confirmation rate as a plain ratio: more confirmations than drafts
    -- (e.g. a draft confirmed twice) gives a rate above 1, which is reported, not capped.
    CASE WHEN NOT (m."confirmationRate" >= 0 AND m."confirmationRate" < 'Infinity')
         THEN format('confirmation_rate is %s; it must be a non-negative number', m."confirmationRate") END,
    CASE WHEN NOT coalesce(m."signalDensity" >= 0 AND m."signalDensity" < 'Infinity', false)
         THEN format('signal_density is %s; it must be a non-negative number', coalesce(m."signalDensity"::text, 'null')) END,
    CASE WHEN m."droppedOff" IS NULL THEN 'dropped_off is missing' END,
    CASE WHEN m."droppedOff" IS DISTINCT FROM (m."dropOffStep" IS NOT NULL)
         THEN format('drop_off_step (%s) must be set exactly when dropped_off (%s)',
                     coalesce(m."dropOffStep", 'null'), coalesce(m."droppedOff"::text, 'null')) END
  ], NULL)`;

  /** The error for a session with problems. */
  invalid(sessionId: string, problems: string[]): AppError {
    return new AppError('SESSION_DATA_INVALID', `Session "${sessionId}": ${problems.join('; ')}.`, {
      extensions: { sessionId, problems },
    });
  }
}
