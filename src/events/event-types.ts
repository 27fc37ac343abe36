/** The tracking event types the API accepts (spec §3). */
export const EVENT_TYPES = [
  'pageview',
  'conversion',
  'session_start',
  'session_end',
  'draft_created',
  'draft_confirmed',
  'step_started',
  'step_completed',
  'signal',
  'custom',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Types whose events must carry a `name` (for the step events, the step's name). */
export const NAMED_EVENT_TYPES: readonly EventType[] = ['custom', 'step_started', 'step_completed'];

/** Client clocks may run ahead a little; further ahead than this is rejected. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

export const MAX_PROPERTIES_BYTES = 16 * 1024;

/** Codes of events rejected inside an accepted batch (`rejected[].code`). */
export const EVENT_REJECTION_CODES = {
  invalid: 'EVENT_INVALID',
  inFuture: 'EVENT_IN_FUTURE',
} as const;

/** The ingestion route (the JSON body check leaves its texts to the per-event verifier: app.factory). */
export const EVENTS_ROUTE = 'v1/projects/:projectId/events';
