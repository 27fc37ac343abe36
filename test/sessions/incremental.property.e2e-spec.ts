import fc from 'fast-check';
import { FixedClock } from '../../src/common/clock/clock.js';
import { aggregate, ingest, type EventInput } from '../factories/events.js';
import { createProject } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const NOW = Date.parse('2025-05-01T12:00:00.000Z');

const eventArb: fc.Arbitrary<EventInput> = fc
  .record({
    // Ids whose order differs between byte order and linguistic collations, for the full pass's key order.
    session: fc.constantFrom('s1', 'S1', 'b', 'B', 'é', ' a', 'a '),
    type: fc.constantFrom('pageview', 'pageview', 'pageview', 'conversion', 'session_end', 'signal'),
    path: fc.constantFrom('/', '/a', '/b', '/product/1', '/cart'),
    // Whole minutes within the last 2 hours, so ties of occurredAt happen often.
    minutesAgo: fc.integer({ min: 0, max: 120 }),
    user: fc.option(fc.constantFrom('u1', 'u2'), { nil: undefined }),
  })
  .map(({ session, type, path, minutesAgo, user }) => ({
    sessionId: session,
    type,
    occurredAt: new Date(NOW - minutesAgo * 60_000).toISOString(),
    ...(type === 'pageview' ? { url: path } : {}),
    ...(user ? { userId: user } : {}),
  }));

/** Cut points splitting the received order into consecutive chunks. */
function chunks<T>(items: T[], cuts: number[]): T[][] {
  const points = [...new Set(cuts.map((c) => c % (items.length + 1)))].sort((a, b) => a - b);
  const result: T[][] = [];
  let start = 0;
  for (const point of [...points, items.length]) {
    if (point > start) result.push(items.slice(start, point));
    start = Math.max(start, point);
  }
  return result;
}

describe('incremental aggregation (property)', () => {
  let t: TestApp;

  beforeAll(async () => {
    // Batches of 3 sessions, so both paths (the queue and the full pass) cut runs into several batches.
    t = await startTestApp({ clock: new FixedClock(new Date(NOW)), env: { SESSION_AGGREGATION_BATCH: '3' } });
  });
  afterAll(() => t.close());

  const sessionsOf = (projectId: string) =>
    t.sql(
      `SELECT session_id, user_id, status, started_at, ended_at, completed_at, duration_seconds, page_count, event_count,
              entry_page, exit_page, journey_path, bounced, converted
       FROM sessions WHERE project_id = $1 ORDER BY session_id`,
      [projectId],
    );

  it('gives the same sessions whether the events arrive in chunks across several runs or in one run', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { minLength: 1, maxLength: 40 }), fc.array(fc.nat(), { maxLength: 5 }), async (events, cuts) => {
        const chunked = await createProject(t, { name: 'chunked' });
        const whole = await createProject(t, { name: 'whole' });
        for (const chunk of chunks(events, cuts)) {
          await ingest(t, chunked, chunk);
          await aggregate(t);
        }
        await ingest(t, whole, events);
        await aggregate(t);
        const expected = await sessionsOf(whole.id);
        expect(await sessionsOf(chunked.id)).toEqual(expected);
        // And a further run with nothing new changes nothing.
        expect(await aggregate(t)).toMatchObject({ eventsRead: 0, sessionsCreated: 0, sessionsUpdated: 0 });
        // A full pass goes through every session of every project in key order, once each: with every
        // row damaged first, it must repair all of them and read every event once.
        const [{ sessions, events: stored }] = await t.sql(
          `SELECT (SELECT count(*)::int FROM sessions) AS sessions, (SELECT count(*)::int FROM tracking_events) AS events`,
        );
        await t.sql(`UPDATE sessions SET event_count = -1`);
        expect(await aggregate(t, true)).toMatchObject({ sessionsCreated: 0, sessionsUpdated: sessions, eventsRead: stored });
        expect(await sessionsOf(chunked.id)).toEqual(expected);
        expect(await sessionsOf(whole.id)).toEqual(expected);
      }),
      { numRuns: 25 },
    );
  });
});
