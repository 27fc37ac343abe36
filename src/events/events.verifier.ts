/**
 * Checks one raw event of a batch. Written by hand rather than with class-validator because it
 * runs for every event at ingestion rate and must say, per event, why it was turned away (a bad
 * event is listed in `rejected`, it does not fail the batch). The OpenAPI shape is TrackingEventDto.
 */
import { randomUUID } from 'node:crypto';
import type { FieldError } from '../common/errors/app-error.js';
import { isStorableText, UNSTORABLE_JSON_ESCAPE } from '../common/text/storable-text.js';
import { readDateTime } from '../common/time/instant.js';
import { normalisePath } from './event-path.js';
import { EVENT_REJECTION_CODES, EVENT_TYPES, MAX_FUTURE_SKEW_MS, MAX_PROPERTIES_BYTES, NAMED_EVENT_TYPES, type EventType } from './event-types.js';

export interface NewTrackingEvent {
  eventId: string;
  /** The client sent the id (so it is a dedup key); otherwise it was generated here. */
  clientEventId: boolean;
  sessionId: string;
  userId: string | null;
  type: EventType;
  name: string | null;
  url: string | null;
  path: string | null;
  referrer: string | null;
  occurredAt: Date;
  properties: string;
}

/**
 * A turned-away event: every problem it has, each naming its field (spec §5; `event` for the event
 * as a whole), and all of them in `message`.
 */
export interface EventRejection {
  code: string;
  message: string;
  errors: FieldError[];
}

const FIELDS = new Set(['eventId', 'sessionId', 'userId', 'type', 'name', 'url', 'referrer', 'occurredAt', 'properties']);
const TYPES = new Set<string>(EVENT_TYPES);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Date and time are required; a missing zone is read as UTC.
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const IN_FUTURE = 'occurredAt is more than 5 minutes in the future';

/**
 * A text's length in characters (Unicode code points), as PostgreSQL's length() counts them in the
 * tables' checks: an emoji is one character, not the two UTF-16 units of String#length.
 */
function characters(value: string): number {
  return value.length > 4 * 2048 ? value.length : [...value].length;
}

/** The problems of one event, gathered field by field (a valid event allocates no list). */
class Problems {
  list: FieldError[] | undefined;

  add(field: string, message: string): void {
    (this.list ??= []).push({ field, message });
  }

  has(field: string): boolean {
    return this.list?.some((p) => p.field === field) ?? false;
  }

  /** EVENT_IN_FUTURE when that is its only problem, else EVENT_INVALID. */
  rejection(): EventRejection {
    const errors = this.list!;
    const future = errors.length === 1 && errors[0].message === IN_FUTURE;
    return {
      code: future ? EVENT_REJECTION_CODES.inFuture : EVENT_REJECTION_CODES.invalid,
      message: errors.map((p) => p.message).join('; '),
      errors,
    };
  }
}

function optionalString(value: unknown, field: string, max: number, problems: Problems): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') problems.add(field, `${field} must be a string`);
  else if (characters(value) > max) problems.add(field, `${field} must be at most ${max} characters`);
  else if (!isStorableText(value)) problems.add(field, `${field} must not contain NUL characters or lone surrogates`);
  else return value;
  return null;
}

export function parseOccurredAt(value: unknown): Date | undefined {
  const match = typeof value === 'string' ? ISO_8601.exec(value) : null;
  if (!match || Number(match[1]) < 1) return undefined;
  return readDateTime(match[0], match.slice(1, 7), match[7] !== undefined);
}

/** The event to store, or every reason it cannot be (each field is checked on its own). */
export function verifyEvent(raw: unknown, now: Date): NewTrackingEvent | EventRejection {
  const problems = new Problems();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.add('event', 'event must be a JSON object');
    return problems.rejection();
  }
  const event = raw as Record<string, unknown>;
  for (const key of Object.keys(event)) {
    if (!FIELDS.has(key)) problems.add(key, `unknown field ${key}`);
  }

  let eventId = '';
  if (event.eventId === undefined || event.eventId === null) eventId = randomUUID();
  else if (typeof event.eventId === 'string' && UUID.test(event.eventId)) eventId = event.eventId.toLowerCase();
  else problems.add('eventId', 'eventId must be a UUID');

  if (typeof event.sessionId !== 'string' || event.sessionId.length < 1 || characters(event.sessionId) > 128) {
    problems.add('sessionId', 'sessionId must be a string of 1 to 128 characters');
  } else if (!isStorableText(event.sessionId)) {
    problems.add('sessionId', 'sessionId must not contain NUL characters or lone surrogates');
  }
  const type = typeof event.type === 'string' && TYPES.has(event.type) ? (event.type as EventType) : undefined;
  if (!type) problems.add('type', `type must be one of ${EVENT_TYPES.join(', ')}`);

  const userId = optionalString(event.userId, 'userId', 128, problems);
  const name = optionalString(event.name, 'name', 128, problems);
  const url = optionalString(event.url, 'url', 2048, problems);
  const referrer = optionalString(event.referrer, 'referrer', 2048, problems);

  if (type === 'pageview' && !url && !problems.has('url')) problems.add('url', 'url is required for pageview events');
  if (type && NAMED_EVENT_TYPES.includes(type) && !name && !problems.has('name')) problems.add('name', `name is required for ${type} events`);
  let path: string | null = null;
  if (url) {
    const normalised = normalisePath(url);
    if (normalised === undefined) problems.add('url', 'url must be an absolute URL or a path');
    else if (normalised === null && type === 'pageview')
      problems.add('url', 'a pageview url must name a page: a path from the root, not mailto:, javascript: or the like');
    else path = normalised;
  }

  const occurredAt = parseOccurredAt(event.occurredAt);
  if (!occurredAt) problems.add('occurredAt', 'occurredAt must be an ISO-8601 date and time');
  else if (occurredAt.getTime() > now.getTime() + MAX_FUTURE_SKEW_MS) problems.add('occurredAt', IN_FUTURE);

  let properties = '{}';
  if (event.properties !== undefined && event.properties !== null) {
    if (typeof event.properties !== 'object' || Array.isArray(event.properties)) {
      problems.add('properties', 'properties must be a JSON object');
    } else {
      properties = JSON.stringify(event.properties);
      // JSON.stringify writes NUL and unpaired surrogates as \u escapes, which jsonb refuses
      if (UNSTORABLE_JSON_ESCAPE.test(properties)) {
        problems.add('properties', 'properties must not contain NUL characters or lone surrogates');
      } else if (Buffer.byteLength(properties, 'utf8') > MAX_PROPERTIES_BYTES) {
        problems.add('properties', `properties must be at most ${MAX_PROPERTIES_BYTES} bytes of JSON`);
      }
    }
  }
  if (problems.list) return problems.rejection();

  return {
    eventId,
    clientEventId: event.eventId !== undefined && event.eventId !== null,
    sessionId: event.sessionId as string,
    userId,
    type: type!,
    name,
    url,
    path,
    referrer,
    occurredAt: occurredAt!,
    properties,
  };
}

export function isRejection(result: NewTrackingEvent | EventRejection): result is EventRejection {
  return 'code' in result;
}
