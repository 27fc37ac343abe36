import { jest } from '@jest/globals';
import { FixedClock } from '../../src/common/clock/clock.js';
import { SessionCompletionPublisher, type CompletedSession } from '../../src/sessions/session-completion.publisher.js';
import { SessionsRepository } from '../../src/sessions/sessions.repository.js';
import { aggregate, getSession, ingest, pageview } from '../factories/events.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('session aggregation', () => {
  const clock = new FixedClock(new Date('2025-03-10T12:00:00.000Z'));
  let t: TestApp;
  let shop: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    shop = await createProject(t);
  });
  afterAll(() => t.close());

  it('orders out-of-order events by occurredAt and derives every field', async () => {
    await ingest(t, shop, [
      pageview('s-order', '/cart', '2025-03-10T11:50:00.000Z', { userId: 'u1' }),
      pageview('s-order', '/', '2025-03-10T11:40:00.000Z'),
      { sessionId: 's-order', type: 'conversion', occurredAt: '2025-03-10T11:55:30.000Z' },
      pageview('s-order', '/product/42/', '2025-03-10T11:45:00.000Z'),
    ]);
    const counts = await aggregate(t);
    expect(counts).toMatchObject({ eventsRead: 4, sessionsCreated: 1, sessionsUpdated: 0, sessionsCompleted: 0 });
    const session = await getSession(t, shop, 's-order');
    expect(session.status).toBe(200);
    // 11:40:00 → 11:55:30 = 15.5 minutes = 930 s; last event 4.5 min before now < 30 min timeout: active.
    expect(session.body).toEqual({
      sessionId: 's-order',
      userId: 'u1',
      status: 'active',
      startedAt: '2025-03-10T11:40:00.000Z',
      endedAt: '2025-03-10T11:55:30.000Z',
      completedAt: null,
      durationSeconds: 930,
      pageCount: 3,
      eventCount: 4,
      entryPage: '/',
      exitPage: '/cart',
      journeyPath: ['/', '/product/42', '/cart'],
      bounced: false,
      converted: true,
    });
  });

  it('rebuilds a session from all its events when late events arrive, one earlier than its start', async () => {
    await ingest(t, shop, [pageview('s-late', '/b', '2025-03-10T11:30:00.000Z'), pageview('s-late', '/c', '2025-03-10T11:35:00.000Z')]);
    await aggregate(t);
    await ingest(t, shop, [pageview('s-late', '/a', '2025-03-10T11:20:00.000Z'), pageview('s-late', '/d', '2025-03-10T11:36:00.000Z')]);
    const counts = await aggregate(t);
    expect(counts).toMatchObject({ eventsRead: 2, sessionsCreated: 0, sessionsUpdated: 1 });
    const { body } = await getSession(t, shop, 's-late');
    // 11:20 → 11:36 = 960 s
    expect(body).toMatchObject({
      startedAt: '2025-03-10T11:20:00.000Z',
      endedAt: '2025-03-10T11:36:00.000Z',
      durationSeconds: 960,
      journeyPath: ['/a', '/b', '/c', '/d'],
      entryPage: '/a',
      exitPage: '/d',
      pageCount: 4,
      eventCount: 4,
    });
  });

  it('changes nothing when rerun with nothing new', async () => {
    const before = await t.sql(`SELECT * FROM sessions ORDER BY session_id`);
    const counts = await aggregate(t);
    expect(counts).toMatchObject({ eventsRead: 0, sessionsCreated: 0, sessionsUpdated: 0, sessionsCompleted: 0 });
    expect(await t.sql(`SELECT * FROM sessions ORDER BY session_id`)).toEqual(before);
  });

  it('gives a single-event session a null duration and counts a lone pageview as a bounce', async () => {
    await ingest(t, shop, [pageview('s-single', '/landing', '2025-03-10T11:59:00.000Z')]);
    await aggregate(t);
    const { body } = await getSession(t, shop, 's-single');
    expect(body).toMatchObject({ durationSeconds: null, pageCount: 1, eventCount: 1, bounced: true, entryPage: '/landing', exitPage: '/landing' });
  });

  it('leaves entry and exit null for a session without pageviews', async () => {
    await ingest(t, shop, [
      { sessionId: 's-nopage', type: 'signal', occurredAt: '2025-03-10T11:58:00.000Z' },
      { sessionId: 's-nopage', type: 'custom', name: 'clicked', occurredAt: '2025-03-10T11:58:10.000Z' },
    ]);
    await aggregate(t);
    const { body } = await getSession(t, shop, 's-nopage');
    expect(body).toMatchObject({
      pageCount: 0,
      eventCount: 2,
      entryPage: null,
      exitPage: null,
      journeyPath: [],
      bounced: false,
      durationSeconds: 10,
    });
  });

  it('keeps a session spanning midnight and several days as one session', async () => {
    await ingest(t, shop, [
      pageview('s-days', '/a', '2025-03-07T23:50:00.000Z'),
      pageview('s-days', '/b', '2025-03-08T00:10:00.000Z'),
      pageview('s-days', '/c', '2025-03-09T00:00:00.000Z'),
    ]);
    await aggregate(t);
    const { body } = await getSession(t, shop, 's-days');
    // 03-07 23:50 → 03-09 00:00 = 24 h 10 min = 87000 s; last event 36 h before now: completed at last + 30 min.
    expect(body).toMatchObject({
      durationSeconds: 87_000,
      pageCount: 3,
      status: 'completed',
      completedAt: '2025-03-09T00:30:00.000Z',
    });
  });

  it('reads a session from every monthly partition it spans, whichever month its new events fall in', async () => {
    await ingest(t, shop, [pageview('s-months', '/a', '2025-02-28T23:50:00.000Z'), pageview('s-months', '/b', '2025-03-01T00:10:00.000Z')]);
    await aggregate(t);
    // A late event in March only: the February event must still be read.
    await ingest(t, shop, [pageview('s-months', '/c', '2025-03-01T00:20:00.000Z')]);
    await aggregate(t);
    expect((await getSession(t, shop, 's-months')).body).toMatchObject({ startedAt: '2025-02-28T23:50:00.000Z', eventCount: 3 });
    // A run cut off after collecting a January event leaves the session queued; the next run
    // collects a March event for it too, and the rebuild must read January to March.
    await ingest(t, shop, [pageview('s-months', '/z', '2025-01-31T23:55:00.000Z')]);
    await t.get(SessionsRepository).collect();
    await ingest(t, shop, [pageview('s-months', '/d', '2025-03-01T00:25:00.000Z')]);
    await aggregate(t);
    const { body } = await getSession(t, shop, 's-months');
    // 01-31 23:55 → 02-28 23:55 is 28 days, → 03-01 00:25 another 30 min: 28 × 86400 + 1800 = 2,421,000 s.
    expect(body).toMatchObject({
      startedAt: '2025-01-31T23:55:00.000Z',
      endedAt: '2025-03-01T00:25:00.000Z',
      durationSeconds: 2_421_000,
      eventCount: 5,
      journeyPath: ['/z', '/a', '/b', '/c', '/d'],
    });
  });

  it('reads an event that ends the session and commits between the collect and the rebuild', async () => {
    const own = await createProject(t);
    await ingest(t, own, [pageview('s-mid', '/a', '2025-03-10T11:40:00.000Z'), pageview('s-mid', '/b', '2025-03-10T11:45:00.000Z')]);
    await aggregate(t);
    await ingest(t, own, [pageview('s-mid', '/c', '2025-03-10T11:47:00.000Z')]);
    const sessions = t.get(SessionsRepository);
    await sessions.collect();
    // Committed after the collect, later than anything the collect or the stored row knew of.
    await ingest(t, own, [{ sessionId: 's-mid', type: 'session_end', occurredAt: '2025-03-10T11:55:00.000Z' }]);
    await t.dataSource.transaction((tx) => sessions.rebuildQueued(tx, clock.now(), 1000));
    // 11:40 → 11:55 = 900 s; completed at its session_end.
    expect((await getSession(t, own, 's-mid')).body).toMatchObject({
      status: 'completed',
      completedAt: '2025-03-10T11:55:00.000Z',
      endedAt: '2025-03-10T11:55:00.000Z',
      durationSeconds: 900,
      eventCount: 4,
      journeyPath: ['/a', '/b', '/c'],
    });
  });

  it('completes a session at its session_end event', async () => {
    await ingest(t, shop, [
      pageview('s-end', '/a', '2025-03-10T11:50:00.000Z'),
      { sessionId: 's-end', type: 'session_end', occurredAt: '2025-03-10T11:52:00.000Z' },
    ]);
    const counts = await aggregate(t);
    expect(counts).toMatchObject({ sessionsCreated: 1, sessionsCompleted: 1 });
    const { body } = await getSession(t, shop, 's-end');
    expect(body).toMatchObject({ status: 'completed', completedAt: '2025-03-10T11:52:00.000Z' });
  });

  it('completes an active session once its timeout passes, with no new events', async () => {
    await ingest(t, shop, [pageview('s-timeout', '/a', '2025-03-10T11:59:30.000Z')]);
    await aggregate(t);
    expect((await getSession(t, shop, 's-timeout')).body.status).toBe('active');
    const handedOn = jest.fn(async () => undefined);
    t.get(SessionCompletionPublisher).subscribe({ onSessionsCompleted: handedOn });

    // At 12:29:30 the cut-off is 11:59:30: s-late (11:36), s-order (11:55:30), s-nopage (11:58:10)
    // and s-single (11:59) are older; s-timeout (11:59:30) is exactly 30 minutes old, not older.
    clock.set('2025-03-10T12:29:30.000Z');
    expect(await aggregate(t)).toMatchObject({ eventsRead: 0, sessionsUpdated: 4, sessionsCompleted: 4 });
    expect((await getSession(t, shop, 's-timeout')).body.status).toBe('active');
    clock.set('2025-03-10T12:35:00.000Z');
    expect(await aggregate(t)).toMatchObject({ eventsRead: 0, sessionsUpdated: 1, sessionsCompleted: 1 });
    const { body } = await getSession(t, shop, 's-timeout');
    expect(body).toMatchObject({ status: 'completed', completedAt: '2025-03-10T12:29:30.000Z' });
    const ids = (handedOn.mock.calls as unknown as [{ sessionId: string }[]][]).flatMap(([sessions]) => sessions.map((s) => s.sessionId));
    expect(ids.sort()).toEqual(['s-late', 's-nopage', 's-order', 's-single', 's-timeout']);
  });

  it('hands a completed session on again when late events change it', async () => {
    const handedOn = jest.fn(async (_sessions: CompletedSession[]) => undefined);
    t.get(SessionCompletionPublisher).subscribe({ onSessionsCompleted: handedOn });
    await ingest(t, shop, [pageview('s-end', '/late', '2025-03-10T11:51:00.000Z')]);
    const counts = await aggregate(t);
    expect(counts).toMatchObject({ eventsRead: 1, sessionsUpdated: 1, sessionsCompleted: 1 });
    // Still completed at its session_end (11:52); its journey changed, so its metrics must be computed again.
    expect(handedOn.mock.calls.flatMap(([sessions]) => sessions)).toEqual([
      { projectId: shop.id, sessionId: 's-end', completedAt: new Date('2025-03-10T11:52:00.000Z') },
    ]);
  });

  it('rebuilds every session from all its events in a full run, repairing a damaged row and changing nothing else', async () => {
    await t.sql(`UPDATE sessions SET page_count = 99, journey_path = '{}', exit_page = NULL WHERE session_id = 's-order'`);
    const [{ events }] = await t.sql(`SELECT count(*)::int AS events FROM tracking_events`);
    expect(await aggregate(t, true)).toMatchObject({ eventsRead: events, sessionsCreated: 0, sessionsUpdated: 1 });
    expect((await getSession(t, shop, 's-order')).body).toMatchObject({
      pageCount: 3,
      journeyPath: ['/', '/product/42', '/cart'],
      exitPage: '/cart',
    });
  });

  it('leaves an event committed during a full pass, after the batch of its session, to the next run', async () => {
    const own = await createProject(t);
    await ingest(t, own, [pageview('s-pass', '/a', '2025-03-10T12:30:00.000Z')]);
    const sessions = t.get(SessionsRepository);
    // The pass: its watermark is taken first, then the batch holding s-pass runs, then /b commits.
    const watermark = await sessions.currentSnapshot();
    const [part] = await sessions.beginFullPass(watermark);
    await t.dataSource.transaction((tx) => sessions.rebuildRange(tx, clock.now(), part.part, 100_000, watermark));
    await ingest(t, own, [pageview('s-pass', '/b', '2025-03-10T12:31:00.000Z')]);
    await sessions.finishFullPass(watermark);
    expect((await getSession(t, own, 's-pass')).body).toMatchObject({ pageCount: 1 });
    expect(await aggregate(t)).toMatchObject({ eventsRead: 1, sessionsUpdated: 1 });
    expect((await getSession(t, own, 's-pass')).body).toMatchObject({ pageCount: 2, journeyPath: ['/a', '/b'], durationSeconds: 60 });
  });

  it('deletes the sessions of a deleted project', async () => {
    const own = await createProject(t);
    await ingest(t, own, [pageview('s-gone', '/a', '2025-03-10T12:30:00.000Z')]);
    await aggregate(t);
    await t.sql(`DELETE FROM projects WHERE id = $1`, [own.id]);
    expect(await t.sql(`SELECT session_id FROM sessions WHERE project_id = $1`, [own.id])).toEqual([]);
    expect((await getSession(t, shop, 's-order')).status).toBe(200);
  });

  it('stores a duplicate event once', async () => {
    const eventId = '7d1c2b8e-4a8f-4a57-9c55-0b8d6e0f1a11';
    const event = { ...pageview('s-dup', '/a', '2025-03-10T12:30:00.000Z'), eventId };
    const first = await t.request({ method: 'POST', url: `/v1/projects/${shop.id}/events`, key: shop.keys.ingest, body: { events: [event, event] } });
    expect(first.body).toEqual({ accepted: 1, duplicates: 1, rejected: [] });
    const again = await t.request({
      method: 'POST',
      url: `/v1/projects/${shop.id}/events`,
      key: shop.keys.ingest,
      body: { events: [{ ...event, eventId: eventId.toUpperCase() }] },
    });
    expect(again.body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    await aggregate(t);
    expect((await getSession(t, shop, 's-dup')).body.eventCount).toBe(1);
  });

  it('answers 404 SESSION_NOT_FOUND for an unknown session', async () => {
    const res = await getSession(t, shop, 'nope');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('SESSION_NOT_FOUND');
  });
});
