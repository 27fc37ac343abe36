import { randomUUID } from 'node:crypto';
import type { TestApp } from '../support/test-app.js';

export interface EventSpec {
  type: string;
  name?: string | null;
  /** Seconds after the session's base time. */
  at: number;
  url?: string;
}

export interface SessionSpec {
  sessionId?: string;
  /** When event `at: 0` happened. */
  base?: Date;
  events: EventSpec[];
  status?: 'active' | 'completed';
  /** Overrides of the derived sessions row (e.g. to make it inconsistent on purpose). */
  row?: Partial<{ started_at: Date; ended_at: Date; duration_seconds: number | null; converted: boolean; aggregated_at: Date }>;
}

const DEFAULT_BASE = new Date('2026-03-02T10:00:00Z');

/**
 * A session written straight into tracking_events and sessions, the way the session aggregation
 * would have left it (started/ended = first/last event, duration null for a single event,
 * converted = any conversion). Returns the session id.
 */
export async function createSession(t: TestApp, projectId: string, spec: SessionSpec): Promise<string> {
  const sessionId = spec.sessionId ?? `s-${randomUUID()}`;
  const base = (spec.base ?? DEFAULT_BASE).getTime();
  const times = spec.events.map((e) => base + Math.round(e.at * 1000));
  await t.sql(
    `INSERT INTO tracking_events (project_id, event_id, session_id, type, name, url, path, occurred_at, received_at)
     SELECT $1, gen_random_uuid(), $2, e.type, e.name, e.url, e.path, e.at, e.at
     FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS e(type, name, url, path, at)`,
    [
      projectId,
      sessionId,
      spec.events.map((e) => e.type),
      spec.events.map((e) => e.name ?? null),
      spec.events.map((e) => e.url ?? null),
      spec.events.map((e) => (e.url ? new URL(e.url).pathname : null)),
      times.map((ms) => new Date(ms)),
    ],
  );
  const first = Math.min(...times);
  const last = Math.max(...times);
  const paths = spec.events.filter((e) => e.type === 'pageview' && e.url).map((e) => new URL(e.url!).pathname);
  const row = {
    started_at: new Date(first),
    ended_at: new Date(last),
    duration_seconds: spec.events.length > 1 ? (last - first) / 1000 : null,
    converted: spec.events.some((e) => e.type === 'conversion'),
    aggregated_at: new Date(),
    ...spec.row,
  };
  await t.sql(
    `INSERT INTO sessions (project_id, session_id, status, started_at, ended_at, completed_at, duration_seconds, page_count,
                           event_count, entry_page, exit_page, journey_path, bounced, converted, aggregated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
    [
      projectId,
      sessionId,
      spec.status ?? 'completed',
      row.started_at,
      row.ended_at,
      (spec.status ?? 'completed') === 'completed' ? row.ended_at : null,
      row.duration_seconds,
      paths.length,
      spec.events.length,
      paths[0] ?? null,
      paths[paths.length - 1] ?? null,
      paths,
      paths.length === 1,
      row.converted,
      row.aggregated_at,
    ],
  );
  return sessionId;
}

/** Adds events to an existing session and marks it re-aggregated now (as a rebuild after late events would). */
export async function addLateEvents(t: TestApp, projectId: string, sessionId: string, base: Date, events: EventSpec[]): Promise<void> {
  for (const e of events) {
    await t.sql(
      `INSERT INTO tracking_events (project_id, event_id, session_id, type, name, occurred_at, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, now())`,
      [projectId, randomUUID(), sessionId, e.type, e.name ?? null, new Date(base.getTime() + e.at * 1000)],
    );
  }
  await t.sql(`UPDATE sessions SET event_count = event_count + $3, aggregated_at = clock_timestamp() WHERE project_id = $1 AND session_id = $2`, [
    projectId,
    sessionId,
    events.length,
  ]);
}

/**
 * `count` completed drafting sessions `<prefix>-<n>` in two statements (for volume tests): start,
 * a draft at n % 50 + 5 s, its confirmation, one step started and completed, two signals, end at 120 s.
 */
export async function createDraftingSessions(t: TestApp, projectId: string, count: number, prefix = 'bulk'): Promise<string[]> {
  await t.sql(
    `INSERT INTO tracking_events (project_id, event_id, session_id, type, name, occurred_at, received_at)
     SELECT $1, gen_random_uuid(), $2 || '-' || n, e.type, e.name, $4::timestamptz + e.at * interval '1 second', now()
     FROM generate_series(1, $3) n
     CROSS JOIN LATERAL (VALUES ('session_start', NULL, 0), ('draft_created', NULL, n % 50 + 5), ('draft_confirmed', NULL, 70),
                                ('step_started', 'details', 75), ('step_completed', 'details', 80), ('signal', NULL, 90),
                                ('signal', NULL, 100), ('session_end', NULL, 120)) AS e(type, name, at)`,
    [projectId, prefix, count, '2026-03-02T10:00:00Z'],
  );
  await t.sql(
    `INSERT INTO sessions (project_id, session_id, status, started_at, ended_at, completed_at, duration_seconds, page_count,
                           event_count, journey_path, bounced, converted, aggregated_at)
     SELECT $1, $2 || '-' || n, 'completed', $4::timestamptz, $4::timestamptz + interval '120 seconds',
            $4::timestamptz + interval '120 seconds', 120, 0, 8, '{}', false, false, now()
     FROM generate_series(1, $3) n`,
    [projectId, prefix, count, '2026-03-02T10:00:00Z'],
  );
  return Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
}
