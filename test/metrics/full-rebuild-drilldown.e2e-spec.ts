import pg from 'pg';
import { FixedClock } from '../../src/common/clock/clock.js';
import { refillWithIndexesBuiltAfter } from '../../src/common/database/refill.js';
import { computeMetrics } from '../factories/metrics.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { createSession } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * A full rebuild refills metrics_drilldown with its indexes built and its keys checked after the
 * insert. The table must come out with every index and constraint it had (names and definitions as
 * the catalogue read before the rebuild, the oracle here), enforcing them, holding exactly the
 * rows of the kept 30 days; and a refill that fails leaves the table as it was.
 */
describe('metrics compute: full rebuild of the drilldown', () => {
  const clock = new FixedClock(new Date('2026-04-10T12:00:00Z'));
  let t: TestApp;
  let shop: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp({ clock });
    shop = await createProject(t);
  });
  afterAll(() => t.close());

  const catalogue = async () => ({
    indexes: await t.sql(`SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'metrics_drilldown' ORDER BY indexname`),
    constraints: await t.sql(
      `SELECT conname, contype, pg_get_constraintdef(oid) AS definition, convalidated FROM pg_constraint
       WHERE conrelid = 'metrics_drilldown'::regclass ORDER BY conname`,
    ),
  });
  const putSession = (id: string, startedAt: string) =>
    createSession(t, shop.id, { sessionId: id, base: new Date(startedAt), events: [{ type: 'pageview', at: 0, url: 'https://shop.example/' }] });
  const sessionRows = async () =>
    (
      await t.sql(`SELECT reference_id FROM metrics_drilldown WHERE project_id = $1 AND entity_type = 'session' ORDER BY reference_id`, [shop.id])
    ).map((r: { reference_id: string }) => r.reference_id);

  it('keeps every index and constraint, enforced, and holds the rows of the kept days only', async () => {
    const before = await catalogue();
    // the seed's two indexes, the paging index, the key the upserts name, the primary and foreign keys
    expect(before.indexes.map((i: { indexname: string }) => i.indexname)).toEqual([
      'metrics_drilldown_entity_idx',
      'metrics_drilldown_key',
      'metrics_drilldown_page_idx',
      'metrics_drilldown_pkey',
      'metrics_drilldown_reference_idx',
    ]);
    await putSession('a', '2026-04-05T09:00:00Z');
    await putSession('b', '2026-04-09T09:00:00Z');
    await putSession('old', '2026-03-01T09:00:00Z'); // before the cutoff (03-11 12:00): no row
    expect(await computeMetrics(t, true)).toMatchObject({ full: true, drilldownRowsUpserted: 2 });
    expect(await sessionRows()).toEqual(['a', 'b']);

    // a second rebuild over the rows of the first: replaced, not added to; a deleted session's row goes
    await t.sql(`DELETE FROM sessions WHERE project_id = $1 AND session_id = 'b'`, [shop.id]);
    expect(await computeMetrics(t, true)).toMatchObject({ full: true, drilldownRowsUpserted: 1 });
    expect(await sessionRows()).toEqual(['a']);
    expect(await catalogue()).toEqual(before);

    const row = `($1, 'sessions', 'session', NULL, 'a', '2026-04-05T00:00:00Z', '{}', now())`;
    const insert = (projectId: string) =>
      t.sql(
        `INSERT INTO metrics_drilldown (project_id, metric_key, entity_type, entity_id, reference_id, time_bucket, payload, computed_at) VALUES ${row}`,
        [projectId],
      );
    await expect(insert(shop.id)).rejects.toMatchObject({ driverError: { code: '23505', constraint: 'metrics_drilldown_key' } });
    await expect(insert('00000000-0000-4000-8000-000000000001')).rejects.toMatchObject({ driverError: { code: '23503' } });
    // an incremental run upserts on the restored key
    clock.set('2026-04-10T13:00:00Z');
    await putSession('c', '2026-04-08T09:00:00Z');
    expect(await computeMetrics(t)).toMatchObject({ full: false, drilldownRowsUpserted: 1 });
    expect(await sessionRows()).toEqual(['a', 'c']);
  });

  it('keeps the foreign key, so the refill never locks projects; it stops waiting for a reader after the lock timeout', async () => {
    // the locks held while filling, then rolled back (the rows stay for the next test)
    let locks: { relation: string; mode: string }[] = [];
    await expect(
      t.dataSource.transaction((tx) =>
        refillWithIndexesBuiltAfter(tx, 'metrics_drilldown', 5_000, async () => {
          locks = await tx.query(
            `SELECT c.relname AS relation, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
             WHERE l.pid = pg_backend_pid() AND c.relname IN ('projects', 'metrics_drilldown') ORDER BY 1, 2`,
          );
          throw new Error('roll back');
        }),
      ),
    ).rejects.toThrow('roll back');
    expect(locks.filter((l) => l.relation === 'projects')).not.toContainEqual(expect.objectContaining({ mode: 'AccessExclusiveLock' }));
    expect(locks).toContainEqual({ relation: 'metrics_drilldown', mode: 'AccessExclusiveLock' });

    // the fill runs under the lock timeout the transaction had (a full rebuild's bound), not without one
    let during = '';
    await t.dataSource
      .transaction(async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '1234ms'`);
        await refillWithIndexesBuiltAfter(tx, 'metrics_drilldown', 5_000, async () => {
          during = (await tx.query(`SELECT current_setting('lock_timeout') AS v`))[0].v;
        });
        throw new Error('roll back');
      })
      .catch((error: Error) => expect(error.message).toBe('roll back'));
    expect(during).toBe('1234ms');

    // a reader holds the table: the refill gives up after its timeout, not after the reader
    await t.inRolledBackTransaction(async (reader) => {
      await reader.query(`SELECT count(*) FROM metrics_drilldown`);
      const started = Date.now();
      await expect(t.dataSource.transaction((tx) => refillWithIndexesBuiltAfter(tx, 'metrics_drilldown', 200, async () => 0))).rejects.toMatchObject({
        driverError: { code: '55P03' },
      });
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });

  it('fails as a whole when the drilldown, written alongside, cannot be: the trend points and drilldown rows stay as they were', async () => {
    const trend = () =>
      t.sql(`SELECT metric_key, time_grain, time_bucket, value_numeric FROM metrics_trend_point WHERE project_id = $1 ORDER BY 1, 2, 3`, [shop.id]);
    const trendBefore = await trend();
    const rowsBefore = await sessionRows();
    expect(rowsBefore).toEqual(['a', 'c']);
    // a new session: a rebuild that landed would count it, in the trend (sessions of 04-07) and the drilldown
    await putSession('d', '2026-04-07T09:00:00Z');
    await t.inRolledBackTransaction(async (reader) => {
      await reader.query(`SELECT count(*) FROM metrics_drilldown`);
      const res = await t.request({ method: 'POST', url: '/v1/jobs/metrics-compute/runs?wait=true', body: { full: true } });
      expect(res.body).toMatchObject({ status: 'failed', error: expect.stringContaining('lock timeout') });
    });
    expect(await trend()).toEqual(trendBefore);
    expect(await sessionRows()).toEqual(rowsBefore);
    // and the next run counts the session in both
    expect(await computeMetrics(t, true)).toMatchObject({ full: true, drilldownRowsUpserted: 3 });
    expect(await sessionRows()).toEqual(['a', 'c', 'd']);
    const sessionsOf0407 = await t.sql(
      `SELECT value_numeric FROM metrics_trend_point WHERE project_id = $1 AND metric_key = 'sessions' AND time_grain = 'day' AND time_bucket = '2026-04-07T00:00:00Z'`,
      [shop.id],
    );
    expect(sessionsOf0407).toEqual([{ value_numeric: 1 }]);
  }, 20_000);

  it('does not hang when a project is deleted during the rebuild: the lock cycle through the drilldown ends in a lock timeout', async () => {
    // The cycle: the deletion's cascade waits for the drilldown (locked by the transaction writing
    // it alongside), the rebuild's summary insert waits for the deleted project row, and the
    // drilldown's transaction waits (in the service, out of PostgreSQL's sight) for the rebuild.
    const empty = await createProject(t);
    await putSession('e', '2026-04-09T10:00:00Z');
    // trend points for the gate below to hold
    expect(((await t.sql(`SELECT count(*)::int AS n FROM metrics_trend_point`)) as { n: number }[])[0].n).toBeGreaterThan(0);
    const client = async () => {
      const c = new pg.Client({ connectionString: t.database.url });
      await c.connect();
      return c;
    };
    // the watcher polls on a connection of its own, so it never waits for one of the app's pool, which the run uses
    const [gate, deleter, watcher] = [await client(), await client(), await client()];
    const until = async (what: string, sql: string, params: unknown[] = []) => {
      for (let i = 0; i < 200; i++) {
        if ((await watcher.query(sql, params)).rows.length > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const activity = await watcher.query(
        `SELECT pid, state, wait_event_type, wait_event, left(query, 60) AS query, now() - xact_start AS age FROM pg_stat_activity WHERE datname = current_database()`,
      );
      throw new Error(`timed out waiting for ${what}; sessions: ${JSON.stringify(activity.rows)}`);
    };
    try {
      // only orders the steps: the rebuild's first transaction waits at its first write (emptying the
      // trend points) until the gate opens, so the deletion takes the project row before the rebuild's summary insert does
      await gate.query(`BEGIN`);
      await gate.query(`SELECT * FROM metrics_trend_point FOR UPDATE`);
      const started = Date.now();
      const run = t.request({ method: 'POST', url: '/v1/jobs/metrics-compute/runs?wait=true', body: { full: true } });
      // in this database only: the suites running meanwhile each have a clone of the same template, whose metrics_drilldown has the same oid
      await until(
        'the drilldown refilled alongside',
        `SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
         WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND c.relname = 'metrics_drilldown' AND l.mode = 'AccessExclusiveLock' AND l.granted`,
      );
      const [{ pid }] = (await deleter.query(`SELECT pg_backend_pid() AS pid`)).rows;
      const deleted = deleter.query(`DELETE FROM projects WHERE id = $1`, [empty.id]);
      await until('the deletion to wait', `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [pid]);
      await gate.query(`ROLLBACK`);
      const res = await run;
      expect(res.body).toMatchObject({ status: 'failed', error: expect.stringContaining('lock timeout') });
      expect((await deleted).rowCount).toBe(1);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await gate.end();
      await deleter.end();
      await watcher.end();
    }
    // the next rebuild counts session e
    expect(await computeMetrics(t, true)).toMatchObject({ full: true });
    expect(await sessionRows()).toContain('e');
  }, 30_000);

  it('leaves the table, its rows and its indexes as they were when the refill fails', async () => {
    const before = await catalogue();
    const rows = await sessionRows();
    expect(rows.length).toBeGreaterThan(0);
    await expect(
      t.dataSource.transaction((tx) =>
        refillWithIndexesBuiltAfter(tx, 'metrics_drilldown', 5_000, async () => {
          expect(await tx.query(`SELECT count(*)::int AS n FROM metrics_drilldown`)).toEqual([{ n: 0 }]);
          throw new Error('fill failed');
        }),
      ),
    ).rejects.toThrow('fill failed');
    expect(await sessionRows()).toEqual(rows);
    expect(await catalogue()).toEqual(before);
  });
});
