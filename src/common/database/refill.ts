import { execute, queryRows, withLockTimeout, type Db } from './sql.js';

interface Definition {
  name: string;
  definition: string;
}

/**
 * Empties `table` and fills it again with `fill`, in transaction `tx`, building its indexes and
 * checking its primary and unique keys once after the fill instead of row by row: a B-tree built
 * from all rows at once is a sort, where inserting row by row walks (and splits) every index for
 * every row. Foreign keys and check constraints stay: dropping a foreign key locks the table it
 * points to (ACCESS EXCLUSIVE, until `tx` ends), which for `projects` would stall the whole API.
 *
 * The definitions are read from the catalogue and restored as they were, with their names (an
 * `ON CONFLICT ON CONSTRAINT` names them), so a later migration of the table needs no change here.
 * A key whose index has storage parameters (fillfactor…) is refused before anything is touched:
 * `pg_get_constraintdef` would not give them back.
 *
 * TRUNCATE locks the table ACCESS EXCLUSIVE until `tx` ends: readers of this table wait for the
 * commit (they then see the new rows, never an empty table). It waits at most `lockTimeoutMs` for
 * readers already there (a backup, a long query), since every reader arriving meanwhile queues
 * behind it; past that the statement fails, and with it the transaction. Meant for rebuilds, not
 * routine writes.
 */
export async function refillWithIndexesBuiltAfter<T>(tx: Db, table: string, lockTimeoutMs: number, fill: () => Promise<T>): Promise<T> {
  const constraints = await queryRows<Definition & { options: string[] | null }>(
    tx,
    `SELECT c.conname AS name, pg_get_constraintdef(c.oid) AS definition, i.reloptions AS options
     FROM pg_constraint c JOIN pg_class i ON i.oid = c.conindid
     WHERE c.conrelid = $1::regclass AND c.contype IN ('p', 'u')
     ORDER BY c.conname`,
    [table],
  );
  const unrestorable = constraints.filter((c) => c.options !== null);
  if (unrestorable.length > 0) {
    throw new Error(`cannot refill ${table}: the indexes of ${unrestorable.map((c) => c.name).join(', ')} have storage parameters`);
  }
  const indexes = await queryRows<Definition>(
    tx,
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition FROM pg_index i
     WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
     ORDER BY 1`,
    [table],
  );
  await withLockTimeout(tx, lockTimeoutMs, () => execute(tx, `TRUNCATE ${table}`));
  for (const c of constraints) await execute(tx, `ALTER TABLE ${table} DROP CONSTRAINT ${quoteIdent(c.name)}`);
  for (const index of indexes) await execute(tx, `DROP INDEX ${index.name}`);
  const result = await fill();
  for (const index of indexes) await execute(tx, index.definition);
  for (const c of constraints) await execute(tx, `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`);
  return result;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
