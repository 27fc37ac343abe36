/**
 * Checks one raw event of a batch. Written by hand rather than with class-validator because it
 * runs for every event at ingestion rate and must say, per event, why it was turned away (a bad
 * event is listed in `rejected`, it does not fail the batch). The OpenAPI shape is TrackingEventDto.
 */
import { randomUUID } from 'node:crypto';
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

export interface EventRejection {
  code: string;
  message: string;
}

const FIELDS = new Set(['eventId', 'sessionId', 'userId', 'type', 'name', 'url', 'referrer', 'occurredAt', 'properties']);
const TYPES = new Set<string>(EVENT_TYPES);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** A `\u0000` or `\ud800`–`\udfff` escape in JSON text: preceded by an even number of backslashes. */
const ESCAPED_UNSTORABLE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f])/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Date and time are required; a missing zone is read as UTC.
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** PostgreSQL text and jsonb refuse NUL characters and unpaired surrogates; refuse them here first. */
function storable(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

function invalid(message: string): EventRejection {
  return { code: EVENT_REJECTION_CODES.invalid, message };
}

/**
 * A text's length in characters (Unicode code points), as PostgreSQL's length() counts them in the
 * tables' checks: an emoji is one character, not the two UTF-16 units of String#length.
 */
function characters(value: string): number {
  return value.length > 4 * 2048 ? value.length : [...value].length;
}

function optionalString(value: unknown, field: string, max: number): string | null | EventRejection {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') return invalid(`${field} must be a string`);
  if (characters(value) > max) return invalid(`${field} must be at most ${max} characters`);
  if (!storable(value)) return invalid(`${field} must not contain NUL characters or lone surrogates`);
  return value;
}

export function parseOccurredAt(value: unknown): Date | undefined {
  const match = typeof value === 'string' ? ISO_8601.exec(value) : null;
  if (!match || Number(match[1]) < 1) return undefined;
  return readDateTime(match[0], match.slice(1, 7), match[7] !== undefined);
}

export function verifyEvent(raw: unknown, now: Date): NewTrackingEvent | EventRejection {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return invalid('event must be a JSON object');
  const event = raw as Record<string, unknown>;
  for (const key of Object.keys(event)) {
    if (!FIELDS.has(key)) return invalid(`unknown field ${key}`);
  }

  let eventId: string;
  if (event.eventId === undefined || event.eventId === null) eventId = randomUUID();
  else if (typeof event.eventId === 'string' && UUID.test(event.eventId)) eventId = event.eventId.toLowerCase();
  else return invalid('eventId must be a UUID');

  if (typeof event.sessionId !== 'string' || event.sessionId.length < 1 || characters(event.sessionId) > 128) {
    return invalid('sessionId must be a string of 1 to 128 characters');
  }
  if (!storable(event.sessionId)) return invalid('sessionId must not contain NUL characters or lone surrogates');
  if (typeof event.type !== 'string' || !TYPES.has(event.type)) {
    return invalid(`type must be one of ${EVENT_TYPES.join(', ')}`);
  }
  const type = event.type as EventType;

  const userId = optionalString(event.userId, 'userId', 128);
  if (typeof userId === 'object' && userId !== null) return userId;
  const name = optionalString(event.name, 'name', 128);
  if (typeof name === 'object' && name !== null) return name;
  const url = optionalString(event.url, 'url', 2048);
  if (typeof url === 'object' && url !== null) return url;
  const referrer = optionalString(event.referrer, 'referrer', 2048);
  if (typeof referrer === 'object' && referrer !== null) return referrer;

  if (type === 'pageview' && !url) return invalid('url is required for pageview events');
  if (NAMED_EVENT_TYPES.includes(type) && !name) return invalid(`name is required for ${type} events`);
  let path: string | null = null;
  if (url) {
    const normalised = normalisePath(url);
    if (normalised === undefined) return invalid('url must be an absolute URL or a path');
    path = normalised;
  }

  const occurredAt = parseOccurredAt(event.occurredAt);
  if (!occurredAt) return invalid('occurredAt must be an ISO-8601 date and time');
  if (occurredAt.getTime() > now.getTime() + MAX_FUTURE_SKEW_MS) {
    return { code: EVENT_REJECTION_CODES.inFuture, message: 'occurredAt is more than 5 minutes in the future' };
  }

  let properties = '{}';
  if (event.properties !== undefined && event.properties !== null) {
    if (typeof event.properties !== 'object' || Array.isArray(event.properties)) return invalid('properties must be a JSON object');
    properties = JSON.stringify(event.properties);
    // JSON.stringify writes NUL and unpaired surrogates as \u escapes, which jsonb refuses. Only an
    // escape counts: a text holding a backslash followed by `u0000` is written `\\u0000` and is fine.
    if (ESCAPED_UNSTORABLE.test(properties)) {
      return invalid('properties must not contain NUL characters or lone surrogates');
    }
    if (Buffer.byteLength(properties, 'utf8') > MAX_PROPERTIES_BYTES) {
      return invalid(`properties must be at most ${MAX_PROPERTIES_BYTES} bytes of JSON`);
    }
  }

  return {
    eventId,
    clientEventId: event.eventId !== undefined && event.eventId !== null,
    sessionId: event.sessionId,
    userId,
    type,
    name,
    url,
    path,
    referrer,
    occurredAt,
    properties,
  };
}

export function isRejection(result: NewTrackingEvent | EventRejection): result is EventRejection {
  return 'code' in result;
}
