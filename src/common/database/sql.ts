import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';

/** Anything that runs SQL: the pool, or a transaction's EntityManager. */
export type Db = DataSource | EntityManager;

/**
 * Runs parameterised SQL and returns its rows. TypeORM's plain `query()` answers UPDATE/DELETE
 * with `[rows, count]` but SELECT/INSERT with `rows`; this always gives the rows, and `execute`
 * the affected count, so repositories never guess.
 */
export async function queryRows<T>(db: Db, text: string, params: unknown[] = []): Promise<T[]> {
  return (await structured<T>(db, text, params)).records;
}

export async function queryOne<T>(db: Db, text: string, params: unknown[] = []): Promise<T | undefined> {
  return (await queryRows<T>(db, text, params))[0];
}

/** Runs a statement and returns how many rows it touched (or returned). */
export async function execute(db: Db, text: string, params: unknown[] = []): Promise<number> {
  const result = await structured(db, text, params);
  return result.affected ?? result.records.length;
}

async function structured<T>(db: Db, text: string, params: unknown[]) {
  const existing: QueryRunner | undefined = db instanceof DataSource ? undefined : db.queryRunner;
  const runner = existing ?? (db instanceof DataSource ? db : db.connection).createQueryRunner();
  try {
    return await runner.query(text, params, true) as { records: T[]; affected?: number };
  } finally {
    if (!existing) await runner.release();
  }
}
