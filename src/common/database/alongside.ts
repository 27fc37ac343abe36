import type { DataSource, QueryRunner } from 'typeorm';
import { queryOne, withLockTimeout, type Db } from './sql.js';

/** The two halves of a computation run by {@link alongside}, planned in its first transaction. */
export interface AlongsidePlan<A, B> {
  /** Runs in the first transaction. */
  work: () => Promise<A>;
  /** Runs in the second, at the same time. */
  sideWork: (sibling: Db) => Promise<B>;
}

/**
 * Runs one consistent computation in two REPEATABLE READ transactions at once, on two connections
 * of `db`'s pool: a server process runs one statement at a time on one core, so this spreads it
 * over two. `begin` runs first, in the first transaction (whose first statement takes the
 * snapshot), and returns the two halves; the second transaction then takes up that snapshot
 * (pg_export_snapshot), so both see exactly the same rows, and `work` and `sideWork` run together.
 *
 * Commits only when both halves succeeded, the first transaction before the second. If either
 * fails, both roll back and the error reaches the caller (both errors when both fail). Only a
 * failure of the second COMMIT itself leaves the first committed alone: so whatever must not outlive
 * the rest of the computation (a job's consumption of its input, say) belongs in the second.
 *
 * The caller waits for the second transaction here, in this process, where PostgreSQL's deadlock
 * detector cannot see it: a third session waiting for a lock the second holds, while the first
 * waits for the third, would wait forever (a project deleted during a metrics rebuild did: its
 * cascade waited for the drilldown the second had truncated, the rebuild's summary insert for the
 * deleted row). So every lock wait of both transactions is bounded by `lockTimeoutMs` while they
 * work (withLockTimeout): such a cycle ends in a lock timeout, and the run fails as it would on a
 * detected deadlock.
 */
export async function alongside<A, B>(
  db: DataSource,
  options: { lockTimeoutMs: number },
  begin: (tx: Db) => Promise<AlongsidePlan<A, B>>,
): Promise<[A, B]> {
  const first = db.createQueryRunner();
  const second = db.createQueryRunner();
  try {
    await first.connect();
    await first.startTransaction('REPEATABLE READ');
    const tx = first.manager;
    const { work, sideWork } = await begin(tx);
    const { snapshot } = (await queryOne<{ snapshot: string }>(tx, `SELECT pg_export_snapshot() AS snapshot`))!;
    await second.connect();
    await second.startTransaction('REPEATABLE READ');
    await second.query(`SET TRANSACTION SNAPSHOT '${snapshot.replaceAll("'", "''")}'`);
    const sibling = second.manager;
    const both = await withLockTimeout(tx, options.lockTimeoutMs, async (): Promise<[A, B]> => {
      // settled, never rejected: it is awaited whatever `work` does, as a connection runs one statement at a time
      const side = withLockTimeout(sibling, options.lockTimeoutMs, () => sideWork(sibling)).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      let result: A;
      try {
        result = await work();
      } catch (error) {
        const sideOutcome = await side;
        throw sideOutcome.ok
          ? error
          : new AggregateError([error, sideOutcome.error], `${message(error)}; and alongside: ${message(sideOutcome.error)}`, { cause: error });
      }
      const sideOutcome = await side;
      if (!sideOutcome.ok) throw sideOutcome.error;
      return [result, sideOutcome.value];
    });
    await first.commitTransaction();
    try {
      await second.commitTransaction();
    } catch (error) {
      throw new Error(`the first transaction committed, the second failed to commit: ${message(error)}`, { cause: error });
    }
    return both;
  } catch (error) {
    const rollbackErrors = [await rollBack(first), await rollBack(second)].filter((e) => e !== undefined);
    if (rollbackErrors.length) {
      throw new AggregateError([error, ...rollbackErrors], `${message(error)}; and a rollback failed: ${rollbackErrors.map(message).join('; ')}`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    try {
      await first.release();
    } finally {
      await second.release();
    }
  }
}

/** Rolls back `runner`'s open transaction, if any; returns the error of a rollback that failed. */
async function rollBack(runner: QueryRunner): Promise<unknown> {
  if (!runner.isTransactionActive) return undefined;
  try {
    await runner.rollbackTransaction();
    return undefined;
  } catch (error) {
    return error;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
