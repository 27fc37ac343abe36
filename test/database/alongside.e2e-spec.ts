import pg from 'pg';
import type { DataSource } from 'typeorm';
import { alongside } from '../../src/common/database/alongside.js';
import { createDataSource } from '../../src/common/database/data-source.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/**
 * `alongside` runs a second transaction on the snapshot of the first, on another connection, and
 * commits it only when both succeeded. The oracle is a scratch table whose rows each side writes
 * and reads, and a third connection that writes between them.
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
    const [main, side] = await db.transaction('REPEATABLE READ', async (tx) => {
      const seen = await count(tx); // takes the snapshot: 1 row
      await db.query(`INSERT INTO notes VALUES ('later')`); // committed by a third connection
      return alongside(
        db,
        tx,
        bounded,
        async (sibling) => {
          const n = await count(sibling);
          await sibling.query(`INSERT INTO notes VALUES ('side')`);
          return n;
        },
        async () => {
          await tx.query(`INSERT INTO notes VALUES ('main')`);
          return seen;
        },
      );
    });
    expect([main, side]).toEqual([1, 1]);
    expect(await who()).toEqual(['before', 'later', 'main', 'side']);
  });

  it('rolls the second back when the work fails, and surfaces that error', async () => {
    await expect(
      db.transaction('REPEATABLE READ', (tx) =>
        alongside(
          db,
          tx,
          bounded,
          (sibling) => sibling.query(`INSERT INTO notes VALUES ('side')`),
          async () => {
            await tx.query(`INSERT INTO notes VALUES ('main')`);
            throw new Error('main failed');
          },
        ),
      ),
    ).rejects.toThrow('main failed');
    expect(await who()).toEqual([]);
  });

  it('fails when the second fails, after the work ends, so the first rolls back too', async () => {
    let workEnded = false;
    await expect(
      db.transaction('REPEATABLE READ', (tx) =>
        alongside(
          db,
          tx,
          bounded,
          async (sibling) => {
            await sibling.query(`INSERT INTO notes VALUES ('side')`);
            await sibling.query(`SELECT 1/0`);
          },
          async () => {
            await tx.query(`INSERT INTO notes VALUES ('main')`);
            await new Promise((resolve) => setTimeout(resolve, 50));
            workEnded = true;
          },
        ),
      ),
    ).rejects.toMatchObject({ driverError: { code: '22012' } });
    expect(workEnded).toBe(true);
    expect(await who()).toEqual([]);
  });

  it('names both errors when both fail', async () => {
    const failure = db.transaction('REPEATABLE READ', (tx) =>
      alongside(
        db,
        tx,
        bounded,
        () => Promise.reject(new Error('side failed')),
        () => Promise.reject(new Error('main failed')),
      ),
    );
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
      const failure = db.transaction('REPEATABLE READ', (tx) =>
        alongside(
          db,
          tx,
          { lockTimeoutMs: 300 },
          // the second locks notes, and then waits (in this process) for the work to end
          (sibling) => sibling.query(`LOCK TABLE notes IN ACCESS EXCLUSIVE MODE`),
          async () => {
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
        ),
      );
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
      await db
        .transaction('REPEATABLE READ', (tx) =>
          alongside(
            db,
            tx,
            bounded,
            () => Promise.reject(new Error('side failed')),
            async () => i,
          ),
        )
        .catch(() => undefined);
    }
    // four runs of two connections each on a pool of three: it would have stalled at the second run
    expect(idle().idleCount).toBe(idle().totalCount);
  });
});
