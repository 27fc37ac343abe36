import { jest } from '@jest/globals';
import { FixedClock } from '../../src/common/clock/clock.js';
import { SessionAggregationService } from '../../src/sessions/session-aggregation.service.js';
import { SessionCompletionPublisher, type CompletedSession } from '../../src/sessions/session-completion.publisher.js';
import { BATCH_LOCK_SQL, SessionsRepository } from '../../src/sessions/sessions.repository.js';
import { aggregate, getSession, ingest, pageview } from '../factories/events.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Batches of two sessions, so every run here is several batches and the seams between them show;
 * one worker, so a full pass is one part with one cursor.
 */
describe('session aggregation in batches', () => {
  const clock = new FixedClock(new Date('2025-03-10T12:00:00.000Z'));
  let t: TestApp;
  let shop: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { SESSION_AGGREGATION_BATCH: '2', SESSION_AGGREGATION_WORKERS: '1' } });
    shop = await createProject(t);
  });
  afterAll(() => t.close());

  it('leaves an event committed during the first (full) pass, after its session was built, to the next run', async () => {
    // Two hours old, so every session is completed and each batch hands its sessions on.
    await ingest(t, shop, [
      pageview('a1', '/a', '2025-03-10T10:00:00.000Z'),
      pageview('a2', '/a', '2025-03-10T10:00:00.000Z'),
      pageview('b1', '/a', '2025-03-10T10:00:00.000Z'),
      pageview('b2', '/a', '2025-03-10T10:00:00.000Z'),
    ]);
    // The hand-on of the first batch (a1, a2) commits a late event of a1 while the pass goes on.
    let late: Promise<void> | undefined;
    const handedOn = jest.fn(async (sessions: CompletedSession[]) => {
      if (!late && sessions.some((s) => s.sessionId === 'a1')) {
        late = ingest(t, shop, [pageview('a1', '/b', '2025-03-10T10:01:00.000Z')]);
        await late;
      }
    });
    t.get(SessionCompletionPublisher).subscribe({ onSessionsCompleted: handedOn });

    const first = await aggregate(t);
    expect(late).toBeDefined();
    // The batch of b1 and b2 ran after /b committed, but /b belongs to a1, behind the pass.
    expect(first).toMatchObject({ eventsRead: 4, sessionsCreated: 4, sessionsUpdated: 0, sessionsCompleted: 4, batches: 2 });
    expect((await getSession(t, shop, 'a1')).body).toMatchObject({ pageCount: 1, eventCount: 1 });

    // /b was not visible to the pass's watermark, so the next run collects it.
    expect(await aggregate(t)).toMatchObject({ eventsRead: 1, sessionsCreated: 0, sessionsUpdated: 1 });
    expect((await getSession(t, shop, 'a1')).body).toMatchObject({ pageCount: 2, journeyPath: ['/a', '/b'], durationSeconds: 60 });
  });

  it('drains the queue past a batch of queued sessions that have no events', async () => {
    // Sorted before every other session of the project: the queue's first batch is only these two.
    await t.sql(`INSERT INTO session_rebuild_queue (project_id, session_id, events_from) VALUES ($1, '0-none-1', now()), ($1, '0-none-2', now())`, [
      shop.id,
    ]);
    await ingest(t, shop, [pageview('b1', '/c', '2025-03-10T10:02:00.000Z')]);
    expect(await aggregate(t)).toMatchObject({ eventsRead: 1, sessionsCreated: 0, sessionsUpdated: 1 });
    expect((await getSession(t, shop, 'b1')).body).toMatchObject({ journeyPath: ['/a', '/c'] });
    expect(await t.sql(`SELECT session_id FROM session_rebuild_queue`)).toEqual([]);
  });

  it('waits for an overlapping batch that writes the same session, then updates the row it wrote', async () => {
    await ingest(t, shop, [pageview('c1', '/x', '2025-03-10T10:05:00.000Z')]);
    // Another run's batch holds the batch lock and writes a row for c1 that this run cannot yet see.
    const other = t.dataSource.createQueryRunner();
    await other.connect();
    try {
      await other.startTransaction();
      await other.query(BATCH_LOCK_SQL);
      const run = aggregate(t);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await other.query(
        `INSERT INTO sessions (project_id, session_id, status, started_at, ended_at, page_count, event_count, journey_path, bounced, converted, aggregated_at)
         VALUES ($1, 'c1', 'active', '2025-03-10T10:05:00Z', '2025-03-10T10:05:00Z', 7, 7, '{/stale}', false, false, now())`,
        [shop.id],
      );
      await other.commitTransaction();
      // Without the lock, this run's insert of c1 would fail on the primary key.
      expect(await run).toMatchObject({ eventsRead: 1, sessionsCreated: 0, sessionsUpdated: 1 });
    } finally {
      await other.release();
    }
    expect((await getSession(t, shop, 'c1')).body).toMatchObject({ status: 'completed', pageCount: 1, journeyPath: ['/x'] });
  });

  it('resumes a full pass cut off mid-way after the last batch that committed, and stores its watermark at the end', async () => {
    const own = await createProject(t);
    await ingest(t, own, [
      pageview('x1', '/a', '2025-03-10T10:00:00.000Z'),
      pageview('x2', '/a', '2025-03-10T10:00:00.000Z'),
      pageview('x3', '/a', '2025-03-10T10:00:00.000Z'),
      pageview('x3', '/b', '2025-03-10T10:01:00.000Z'),
      pageview('x4', '/a', '2025-03-10T10:00:00.000Z'),
    ]);
    // The batch holding x3 fails, as a crash would end the run there.
    await t.sql(`
      CREATE FUNCTION fail_on_x3() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.session_id = 'x3' THEN RAISE EXCEPTION 'cut off'; END IF; RETURN NEW; END $$`);
    await t.sql(`CREATE TRIGGER fail_on_x3 BEFORE INSERT OR UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION fail_on_x3()`);
    const failed = await t.request({ method: 'POST', url: '/v1/jobs/session-aggregation/runs?wait=true', body: { full: true } });
    expect(failed.body.status).toBe('failed');
    await t.sql(`DROP TRIGGER fail_on_x3 ON sessions`);
    await t.sql(`DROP FUNCTION fail_on_x3()`);

    const [state] = await t.sql(
      `SELECT full_pass_snapshot IS NOT NULL AS unfinished, p.after_project AS project, p.after_session AS session, p.finished
       FROM session_aggregation_state, session_aggregation_pass_part p`,
    );
    expect(state).toMatchObject({ unfinished: true, finished: false });
    // Batches of two sessions in key order, own's x1..x4 before or after shop's sessions (uuid
    // order): the batch holding x3 rolled back, so the pass stopped at x1 (x2 shared x3's batch) or x2.
    expect(state.project).toBe(own.id);
    expect(['x1', 'x2']).toContain(state.session);
    expect((await getSession(t, own, 'x1')).status).toBe(200);
    expect((await getSession(t, own, 'x3')).status).toBe(404);

    // An ordinary run resumes the pass (it is not finished, whatever this run was asked)
    // x3's two events and x4's one (and x2's if its batch rolled back), and shop's events when shop
    // sorts after own (uuid order, byte order of the lowercase text): nothing before the key read again
    const [{ shopEvents }] = await t.sql(`SELECT count(*)::int AS "shopEvents" FROM tracking_events WHERE project_id = $1`, [shop.id]);
    const x2Again = state.session === 'x1' ? 1 : 0;
    expect(await aggregate(t)).toMatchObject({
      eventsRead: 3 + x2Again + (shop.id > own.id ? shopEvents : 0),
      sessionsCreated: 2 + x2Again,
    });
    expect((await getSession(t, own, 'x3')).body).toMatchObject({ pageCount: 2, journeyPath: ['/a', '/b'] });
    expect((await getSession(t, own, 'x4')).body).toMatchObject({ pageCount: 1 });
    expect(
      await t.sql(`SELECT full_pass_snapshot IS NULL AS finished, snapshot IS NOT NULL AS watermark, p.finished AS "partFinished"
                   FROM session_aggregation_state, session_aggregation_pass_part p`),
    ).toEqual([{ finished: true, watermark: true, partFinished: true }]);
    // and the next run has nothing to do
    expect(await aggregate(t)).toMatchObject({ eventsRead: 0, sessionsCreated: 0, sessionsUpdated: 0 });
  });

  it('begins a pass of its own for a full run even with one unfinished, and ignores the end of a pass no longer recorded', async () => {
    const sessions = t.get(SessionsRepository);
    const [{ before }] = await t.sql(`SELECT snapshot::text AS before FROM session_aggregation_state`);
    // an unfinished pass, as a run cut off leaves it, and the end of some other pass arriving late
    const stale = await sessions.currentSnapshot();
    await sessions.beginFullPass(stale);
    await t.sql(`UPDATE session_aggregation_pass_part SET after_project = 'ffffffff-ffff-ffff-ffff-ffffffffffff'`);
    await sessions.finishFullPass('1:1:');
    expect(await t.sql(`SELECT snapshot::text AS watermark, full_pass_snapshot::text AS pass FROM session_aggregation_state`)).toEqual([
      { watermark: before, pass: stale },
    ]);
    // the full run reads every event, not only those after the unfinished pass's cursor
    const [{ events }] = await t.sql(`SELECT count(*)::int AS events FROM tracking_events`);
    expect(await aggregate(t, true)).toMatchObject({ eventsRead: events });
    const [after] = await t.sql(`SELECT snapshot::text AS watermark, full_pass_snapshot AS pass FROM session_aggregation_state`);
    expect(after.pass).toBeNull();
    expect(after.watermark).not.toBe(before);
    // the end of the stale pass, should its run still be going, changes nothing now
    await sessions.finishFullPass(stale);
    expect(await t.sql(`SELECT snapshot::text AS watermark FROM session_aggregation_state`)).toEqual([{ watermark: after.watermark }]);
  });
  it('creates the new sessions and updates the stored ones of full-pass batches that hold both', async () => {
    const mix = await createProject(t);
    await ingest(t, mix, [
      pageview('m1', '/a', '2025-03-10T10:00:00.000Z'),
      pageview('m3', '/a', '2025-03-10T10:00:00.000Z'),
      pageview('m5', '/a', '2025-03-10T10:00:00.000Z'),
    ]);
    expect(await aggregate(t)).toMatchObject({ sessionsCreated: 3 });
    // m2 and m4 sort between the stored sessions, so whatever the batch seams, a batch holds a new
    // session next to a stored one; m1 gains a page, m3 and m5 stay as they are
    await ingest(t, mix, [
      pageview('m1', '/b', '2025-03-10T10:01:00.000Z'),
      pageview('m2', '/a', '2025-03-10T10:00:00.000Z'),
      pageview('m4', '/a', '2025-03-10T10:00:00.000Z'),
    ]);
    expect(await aggregate(t, true)).toMatchObject({ sessionsCreated: 2, sessionsUpdated: 1 });
    expect((await getSession(t, mix, 'm1')).body).toMatchObject({ pageCount: 2, journeyPath: ['/a', '/b'] });
    for (const id of ['m2', 'm4']) expect((await getSession(t, mix, id)).body).toMatchObject({ pageCount: 1, journeyPath: ['/a'] });
  });
});

/** A full pass cut into parts that two workers rebuild side by side, in batches of two sessions. */
describe('session aggregation: a full pass in parts', () => {
  const clock = new FixedClock(new Date('2025-03-10T12:00:00.000Z'));
  let t: TestApp;
  let shop: ProjectFixture;
  const ids = Array.from({ length: 12 }, (_, i) => `k${String(i + 1).padStart(2, '0')}`);

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { SESSION_AGGREGATION_BATCH: '2', SESSION_AGGREGATION_WORKERS: '2' } });
    shop = await createProject(t);
    // k01..k12 with one event each, k05 with three
    await ingest(t, shop, [
      ...ids.map((id) => pageview(id, '/a', '2025-03-10T10:00:00.000Z')),
      pageview('k05', '/b', '2025-03-10T10:01:00.000Z'),
      pageview('k05', '/c', '2025-03-10T10:02:00.000Z'),
    ]);
  });
  afterAll(() => t.close());

  it('cuts the sessions into parts of about as many events each', async () => {
    // 14 events in key order k01 k02 k03 k04 k05 k05 k05 k06 … k12; ntile(4): 4, 4, 3, 3 events,
    // ending at k04, k06 (the fourth event after k04) and k09
    expect(await t.get(SessionsRepository).partBoundaries(4)).toEqual(['k04', 'k06', 'k09'].map((sessionId) => ({ projectId: shop.id, sessionId })));
    // 14 tiles of one event: k05 ends three of them, one key; the last tile (k12) has no end key
    expect(await t.get(SessionsRepository).partBoundaries(14)).toEqual(ids.slice(0, 11).map((sessionId) => ({ projectId: shop.id, sessionId })));
    expect(await t.get(SessionsRepository).partBoundaries(1)).toEqual([]);
  });

  it('rebuilds every session exactly once in the first run, and finishes every part', async () => {
    expect(await aggregate(t)).toMatchObject({ eventsRead: 14, sessionsCreated: 12, sessionsUpdated: 0, sessionsCompleted: 12 });
    const rows = await t.sql(`SELECT session_id AS id, event_count AS events FROM sessions WHERE project_id = $1 ORDER BY session_id`, [shop.id]);
    expect(rows).toEqual(ids.map((id) => ({ id, events: id === 'k05' ? 3 : 1 })));
    // two parts (one per worker) at the ends of 2 tiles of 14 events: k01…k05 (7 events), k06…k12
    const parts = await t.sql(`SELECT part, until_session AS until, finished FROM session_aggregation_pass_part ORDER BY part`);
    expect(parts).toEqual([
      { part: 0, until: 'k05', finished: true },
      { part: 1, until: null, finished: true },
    ]);
    expect(await t.sql(`SELECT full_pass_snapshot IS NULL AS finished FROM session_aggregation_state`)).toEqual([{ finished: true }]);
  });

  it('resumes every part after its last batch that committed when one part fails', async () => {
    await t.sql(`UPDATE sessions SET page_count = 99 WHERE project_id = $1`, [shop.id]);
    await t.sql(`
      CREATE FUNCTION fail_on_k07() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.session_id = 'k07' THEN RAISE EXCEPTION 'cut off'; END IF; RETURN NEW; END $$`);
    await t.sql(`CREATE TRIGGER fail_on_k07 BEFORE INSERT OR UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION fail_on_k07()`);
    const failed = await t.request({ method: 'POST', url: '/v1/jobs/session-aggregation/runs?wait=true', body: { full: true } });
    expect(failed.body.status).toBe('failed');
    await t.sql(`DROP TRIGGER fail_on_k07 ON sessions`);
    await t.sql(`DROP FUNCTION fail_on_k07()`);

    // Repaired (page_count back from 99) exactly the sessions that a committed batch rebuilt; k07's
    // batch rolled back. The next run rebuilds only the others: every part resumes at its cursor.
    const repaired = await t.sql(`SELECT session_id AS id FROM sessions WHERE project_id = $1 AND page_count <> 99 ORDER BY session_id`, [shop.id]);
    expect(repaired.map((r) => r.id)).not.toContain('k07');
    const left = ids.filter((id) => !repaired.some((r) => r.id === id));
    const eventsLeft = left.reduce((sum, id) => sum + (id === 'k05' ? 3 : 1), 0);
    expect(await aggregate(t)).toMatchObject({ eventsRead: eventsLeft, sessionsCreated: 0, sessionsUpdated: left.length });
    expect(
      await t.sql(`SELECT count(*)::int AS n FROM sessions WHERE project_id = $1 AND page_count <> 1 + 2 * (session_id = 'k05')::int`, [shop.id]),
    ).toEqual([{ n: 0 }]);
    expect(await t.sql(`SELECT full_pass_snapshot IS NULL AS finished FROM session_aggregation_state`)).toEqual([{ finished: true }]);
  });

  it("makes a batch of a part wait for another run's batch of the same part, then go on after it", async () => {
    await t.sql(`DELETE FROM sessions WHERE project_id = $1`, [shop.id]);
    const sessions = t.get(SessionsRepository);
    const snapshot = await sessions.currentSnapshot();
    const [part] = await sessions.beginFullPass(snapshot);
    // run A's batch has written k01 and k02 and not committed yet when run B, which resumed the
    // same pass from the same cursor, starts its batch of the same part
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let written!: () => void;
    const aWritten = new Promise<void>((resolve) => (written = resolve));
    const a = t.dataSource.transaction(async (tx) => {
      const batch = await sessions.rebuildRange(tx, clock.now(), part.part, 2, snapshot);
      written();
      await gate;
      return batch;
    });
    await aWritten;
    const b = t.dataSource.transaction((tx) => sessions.rebuildRange(tx, clock.now(), part.part, 2, snapshot));
    await new Promise((resolve) => setTimeout(resolve, 300));
    release();
    // without the wait, B would take k01 and k02 for new as well and fail on the primary key
    expect(await a).toMatchObject({ taken: 2, created: 2, finished: false });
    expect(await b).toMatchObject({ taken: 2, created: 2, finished: false });
    expect(await t.sql(`SELECT session_id AS id FROM sessions WHERE project_id = $1 ORDER BY 1`, [shop.id])).toEqual(
      ['k01', 'k02', 'k03', 'k04'].map((id) => ({ id })),
    );
    expect(await t.sql(`SELECT after_session AS after FROM session_aggregation_pass_part`)).toEqual([{ after: 'k04' }]);
  });

  it('lets two runs that resume one unfinished pass side by side both succeed', async () => {
    await t.sql(`DELETE FROM sessions WHERE project_id = $1`, [shop.id]);
    const sessions = t.get(SessionsRepository);
    await sessions.beginFullPass(await sessions.currentSnapshot(), await sessions.partBoundaries(2));
    const service = t.get(SessionAggregationService);
    const results = await Promise.allSettled([service.run(), service.run()]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    // each session created once, by one run or the other
    const created = results.reduce((sum, r) => sum + (r.status === 'fulfilled' ? r.value.sessionsCreated : 0), 0);
    expect(created).toBe(12);
    expect(await t.sql(`SELECT count(*)::int AS n FROM sessions WHERE project_id = $1`, [shop.id])).toEqual([{ n: 12 }]);
    expect(await t.sql(`SELECT full_pass_snapshot IS NULL AS finished FROM session_aggregation_state`)).toEqual([{ finished: true }]);
  });

  it('does not end a pass while one of its parts is unfinished', async () => {
    const sessions = t.get(SessionsRepository);
    const [{ before }] = await t.sql(`SELECT snapshot::text AS before FROM session_aggregation_state`);
    const snapshot = await sessions.currentSnapshot();
    const [first] = await sessions.beginFullPass(snapshot, [{ projectId: shop.id, sessionId: 'k06' }]);
    await t.dataSource.transaction((tx) => sessions.rebuildRange(tx, clock.now(), first.part, 100, snapshot));
    expect(await sessions.finishFullPass(snapshot)).toBe(false);
    expect(await t.sql(`SELECT snapshot::text AS watermark, full_pass_snapshot::text AS pass FROM session_aggregation_state`)).toEqual([
      { watermark: before, pass: snapshot },
    ]);
    // the next run finishes the other part, then the pass
    expect(await aggregate(t)).toMatchObject({ eventsRead: 6 });
    expect(await t.sql(`SELECT full_pass_snapshot IS NULL AS finished FROM session_aggregation_state`)).toEqual([{ finished: true }]);
  });

  it('writes nothing for a pass that a newer full pass replaced, and tells its run to stop', async () => {
    const sessions = t.get(SessionsRepository);
    const stale = await sessions.currentSnapshot();
    const [part] = await sessions.beginFullPass(stale);
    await sessions.beginFullPass(await sessions.currentSnapshot(), [{ projectId: shop.id, sessionId: 'k06' }]);
    await t.sql(`UPDATE sessions SET page_count = 99 WHERE project_id = $1`, [shop.id]);
    expect(await t.dataSource.transaction((tx) => sessions.rebuildRange(tx, clock.now(), part.part, 100, stale))).toBeNull();
    expect(await t.sql(`SELECT count(*)::int AS n FROM sessions WHERE project_id = $1 AND page_count = 99`, [shop.id])).toEqual([{ n: 12 }]);
    // the newer pass's two parts are untouched, and its run (an ordinary one resumes it) repairs all
    expect(await t.sql(`SELECT part, after_session AS after, finished FROM session_aggregation_pass_part ORDER BY part`)).toEqual([
      { part: 0, after: '', finished: false },
      { part: 1, after: 'k06', finished: false },
    ]);
    expect(await aggregate(t)).toMatchObject({ eventsRead: 14, sessionsUpdated: 12 });
  });
});

describe('session aggregation: a full pass at the edges', () => {
  const clock = new FixedClock(new Date('2025-03-10T12:00:00.000Z'));
  let t: TestApp;
  let shop: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { SESSION_AGGREGATION_BATCH: '2', SESSION_AGGREGATION_WORKERS: '2' } });
    shop = await createProject(t);
  });
  afterAll(() => t.close());

  it('finishes the first pass over no events at all', async () => {
    expect(await t.get(SessionsRepository).partBoundaries(2)).toEqual([]);
    expect(await aggregate(t)).toMatchObject({ eventsRead: 0, sessionsCreated: 0 });
    expect(await t.sql(`SELECT snapshot IS NOT NULL AS watermark, full_pass_snapshot IS NULL AS finished FROM session_aggregation_state`)).toEqual([
      { watermark: true, finished: true },
    ]);
  });

  it('finishes parts of exactly one batch each with an empty batch, events in the DEFAULT partition', async () => {
    await ingest(
      t,
      shop,
      ['d1', 'd2', 'd3', 'd4'].map((id) => pageview(id, '/a', '2019-01-01T10:00:00.000Z')),
    );
    // moved to DEFAULT, where events go when their month's partition cannot be created
    await t.sql(`CREATE TEMP TABLE moved AS SELECT * FROM tracking_events_p201901`);
    await t.sql(`ALTER TABLE tracking_events DETACH PARTITION tracking_events_p201901`);
    await t.sql(`DROP TABLE tracking_events_p201901`);
    await t.sql(`INSERT INTO tracking_events SELECT * FROM moved`);
    expect(await t.sql(`SELECT DISTINCT tableoid::regclass::text AS p FROM tracking_events`)).toEqual([{ p: 'tracking_events_default' }]);
    expect(await aggregate(t, true)).toMatchObject({ eventsRead: 4, sessionsCreated: 4, batches: 2 });
    expect(
      await t.sql(`SELECT part, after_session AS after, until_session AS until, finished FROM session_aggregation_pass_part ORDER BY part`),
    ).toEqual([
      { part: 0, after: 'd2', until: 'd2', finished: true },
      { part: 1, after: 'd4', until: null, finished: true },
    ]);
    expect(await aggregate(t, true)).toMatchObject({ eventsRead: 4, sessionsCreated: 0, sessionsUpdated: 0 });
  });
});
