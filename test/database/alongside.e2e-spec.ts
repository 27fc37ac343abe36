import pg from 'pg';
import type { DataSource } from 'typeorm';
import { alongside } from '../../src/common/database/alongside.js';
import { createDataSource } from '../../src/common/database/data-source.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/**
 * `alongside` runs two transactions on one snapshot, on two connections, and commits them only when
 * both succeeded, the first before the second. The oracle is a scratch table whose rows each side
 * writes and reads, and a third connection that writes between them.
 */
describe('alongside: a second transaction on the same snapshot', () => {
  let database: TestDatabase;
  let db: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase({ empty: true });
    db = createDataSource({ url: database.url, poolSize: 3 });
    await db.initialize();
    await db.query(`CREATE TABLE notes (who text NOT NULL)`);
  });
  afterAll(async () => {
    await db.destroy();
    await database.drop();
  });
  beforeEach(() => db.query(`TRUNCATE notes`));

  const bounded = { lockTimeoutMs: 5_000 };
  const who = async () => (await db.query(`SELECT who FROM notes ORDER BY who`)).map((r: { who: string }) => r.who);
  const count = async (tx: { query: (sql: string) => Promise<{ n: number }[]> }) => (await tx.query(`SELECT count(*)::int AS n FROM notes`))[0].n;

  it('sees what the first transaction sees, not a row committed after its snapshot, and commits both', async () => {
    await db.query(`INSERT INTO notes VALUES ('before')`);
    const [main, side] = await alongside(db, bounded, async (tx) => {
      const seen = await count(tx); // takes the snapshot: 1 row
      await db.query(`INSERT INTO notes VALUES ('later')`); // committed by a third connection
      return {
        sideWork: async (sibling) => {
          const n = await count(sibling);
          await sibling.query(`INSERT INTO notes VALUES ('side')`);
          return n;
        },
        work: async () => {
          await tx.query(`INSERT INTO notes VALUES ('main')`);
          return seen;
        },
      };
    });
    expect([main, side]).toEqual([1, 1]);
    expect(await who()).toEqual(['before', 'later', 'main', 'side']);
  });

  it('commits the first transaction before the second', async () => {
    // each commit stamps its transaction's row: the second's stamp is later
    await db.query(`CREATE TABLE IF NOT EXISTS commits (who text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await db.query(`TRUNCATE commits`);
    await db.query(`CREATE OR REPLACE FUNCTION stamp_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                      BEGIN UPDATE commits SET at = clock_timestamp() WHERE who = NEW.who; RETURN NULL; END $$`);
    await db.query(`DROP TRIGGER IF EXISTS stamp ON commits`);
    await db.query(`CREATE CONSTRAINT TRIGGER stamp AFTER INSERT ON commits INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION stamp_commit()`);
    await alongside(db, bounded, async (tx) => ({
      work: async () => void (await tx.query(`INSERT INTO commits (who) VALUES ('first')`)),
      sideWork: async (sibling) => void (await sibling.query(`INSERT INTO commits (who) VALUES ('second')`)),
    }));
    const rows: { who: string }[] = await db.query(`SELECT who FROM commits ORDER BY at`);
    expect(rows.map((r) => r.who)).toEqual(['first', 'second']);
  });

  it('rolls both back when the work fails, and surfaces that error', async () => {
    await expect(
      alongside(db, bounded, async (tx) => ({
        sideWork: (sibling) => sibling.query(`INSERT INTO notes VALUES ('side')`),
        work: async () => {
          await tx.query(`INSERT INTO notes VALUES ('main')`);
          throw new Error('main failed');
        },
      })),
    ).rejects.toThrow('main failed');
    expect(await who()).toEqual([]);
  });

  it('rolls the first back when planning fails, before the second starts', async () => {
    await expect(
      alongside(db, bounded, async (tx) => {
        await tx.query(`INSERT INTO notes VALUES ('planned')`);
        throw new Error('plan failed');
      }),
    ).rejects.toThrow('plan failed');
    expect(await who()).toEqual([]);
  });

  it('fails when the second fails, after the work ends, so the first rolls back too', async () => {
    let workEnded = false;
    await expect(
      alongside(db, bounded, async (tx) => ({
        sideWork: async (sibling) => {
          await sibling.query(`INSERT INTO notes VALUES ('side')`);
          await sibling.query(`SELECT 1/0`);
        },
        work: async () => {
          await tx.query(`INSERT INTO notes VALUES ('main')`);
          await new Promise((resolve) => setTimeout(resolve, 50));
          workEnded = true;
        },
      })),
    ).rejects.toMatchObject({ driverError: { code: '22012' } });
    expect(workEnded).toBe(true);
    expect(await who()).toEqual([]);
  });

  it('names both errors when both fail', async () => {
    const failure = alongside(db, bounded, async () => ({
      sideWork: () => Promise.reject(new Error('side failed')),
      work: () => Promise.reject(new Error('main failed')),
    }));
    await expect(failure).rejects.toThrow('main failed; and alongside: side failed');
    await expect(failure).rejects.toBeInstanceOf(AggregateError);
  });

  it('ends a lock cycle through its own wait for the second (which PostgreSQL cannot see) with a lock timeout', async () => {
    await db.query(`CREATE TABLE IF NOT EXISTS other (x int)`);
    const third = new pg.Client({ connectionString: database.url });
    await third.connect();
    let thirdDone: Promise<unknown> | undefined;
    const started = Date.now();
    try {
      const failure = alongside(db, { lockTimeoutMs: 300 }, async (tx) => ({
        // the second locks notes, and then waits (in this process) for the work to end
        sideWork: (sibling) => sibling.query(`LOCK TABLE notes IN ACCESS EXCLUSIVE MODE`),
        work: async () => {
          // a third session locks other, then waits for notes (the second's, once it holds it); the work then waits for other (the third's)
          while (
            (
              await db.query(
                // in this database only: another database's relation can have the same oid
                `SELECT 1 FROM pg_locks WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database())
                     AND relation = 'notes'::regclass AND mode = 'AccessExclusiveLock' AND granted`,
              )
            ).length === 0
          ) {
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          await third.query(`BEGIN`);
          await third.query(`LOCK TABLE other IN ACCESS EXCLUSIVE MODE`);
          thirdDone = third.query(`SELECT count(*) FROM notes`).then(() => third.query(`COMMIT`));
          await new Promise((resolve) => setTimeout(resolve, 200));
          await tx.query(`SELECT count(*) FROM other`);
        },
      }));
      await expect(failure).rejects.toMatchObject({ driverError: { code: '55P03' } }); // lock_not_available
      await thirdDone; // the second rolled back, so the third got notes
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await third.end();
    }
  });

  it('gives its connection back to the pool, whatever happened', async () => {
    const idle = () => (db.driver as unknown as { master: { idleCount: number; totalCount: number } }).master;
    for (let i = 0; i < 4; i++) {
      await alongside(db, bounded, async () => ({
        sideWork: () => Promise.reject(new Error('side failed')),
        work: async () => i,
      })).catch(() => undefined);
      await alongside(db, bounded, async () => ({ sideWork: async () => i, work: async () => i }));
    }
    // four runs of two connections each on a pool of three: it would have stalled at the second run
    expect(idle().idleCount).toBe(idle().totalCount);
  });
});
