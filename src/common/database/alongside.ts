import type { DataSource } from 'typeorm';
import { queryOne, withLockTimeout, type Db } from './sql.js';

/**
 * Runs `work` in transaction `tx` while `sideWork` runs alongside it in a second transaction, on
 * another connection of `db`'s pool, that sees exactly what `tx` sees: `tx`'s snapshot, exported
 * (pg_export_snapshot) and taken up by the second transaction before its first statement. `tx` must
 * be REPEATABLE READ or SERIALIZABLE, so its snapshot is the one of its whole transaction. A server
 * process runs one statement at a time on one core: this lets a job spread one consistent
 * computation over two.
 *
 * The second transaction commits after both have succeeded, just before the caller's own commit:
 * if either fails, it rolls back, and the error reaches the caller, so `tx` rolls back too. Only a
 * failure of the caller's COMMIT itself, after this returns, would leave the second committed alone.
 *
 * `tx` waits for the second transaction here, in this process, where PostgreSQL's deadlock
 * detector cannot see it: a third session waiting for a lock the second holds, while `tx` waits for
 * the third, would wait forever (a project deleted during a metrics rebuild did: its cascade waited
 * for the drilldown the second had truncated, the rebuild's summary insert for the deleted row).
 * So every lock wait of both transactions is bounded by `lockTimeoutMs` while they work
 * (withLockTimeout): such a cycle ends in a lock timeout, and the run fails as it would on a
 * detected deadlock.
 */
export async function alongside<A, B>(
  db: DataSource,
  tx: Db,
  options: { lockTimeoutMs: number },
  sideWork: (sibling: Db) => Promise<B>,
  work: () => Promise<A>,
): Promise<[A, B]> {
  const { snapshot } = (await queryOne<{ snapshot: string }>(tx, `SELECT pg_export_snapshot() AS snapshot`))!;
  const runner = db.createQueryRunner();
  try {
    await runner.connect();
    await runner.startTransaction('REPEATABLE READ');
    await runner.query(`SET TRANSACTION SNAPSHOT '${snapshot.replaceAll("'", "''")}'`);
    const sibling = runner.manager;
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
    await runner.commitTransaction();
    return both;
  } catch (error) {
    if (runner.isTransactionActive) {
      try {
        await runner.rollbackTransaction();
      } catch (rollbackError) {
        throw new AggregateError(
          [error, rollbackError],
          `${message(error)}; and the transaction alongside failed to roll back: ${message(rollbackError)}`,
          { cause: rollbackError },
        );
      }
    }
    throw error;
  } finally {
    await runner.release();
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
