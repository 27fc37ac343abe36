import { execute, queryRows, type Db } from './sql.js';

interface Definition {
  name: string;
  definition: string;
}

/**
 * Empties `table` and fills it again with `fill`, in transaction `tx`, building its indexes and
 * checking its unique, primary and foreign keys once after the fill instead of row by row: a
 * B-tree built from all rows at once is a sort, where inserting row by row walks (and splits) every
 * index for every row, and a foreign key added to a filled table is checked by one join instead of
 * one trigger call per row. Check constraints stay: they cost nothing per row worth saving.
 *
 * The definitions are read from the catalogue and restored as they were, with their names (an
 * `ON CONFLICT ON CONSTRAINT` names them), so a later migration of the table needs no change here.
 *
 * TRUNCATE locks the table ACCESS EXCLUSIVE until `tx` ends: readers of this table wait for the
 * commit (they then see the new rows, never an empty table). Meant for rebuilds, not routine writes.
 */
export async function refillWithIndexesBuiltAfter<T>(tx: Db, table: string, fill: () => Promise<T>): Promise<T> {
  await execute(tx, `TRUNCATE ${table}`);
  // keys before the foreign keys that may rest on them (pg_constraint: p primary, u unique, f foreign)
  const constraints = await queryRows<Definition>(
    tx,
    `SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
     WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'f')
     ORDER BY contype = 'f', conname`,
    [table],
  );
  const indexes = await queryRows<Definition>(
    tx,
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition FROM pg_index i
     WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
     ORDER BY 1`,
    [table],
  );
  for (const c of [...constraints].reverse()) await execute(tx, `ALTER TABLE ${table} DROP CONSTRAINT ${quoteIdent(c.name)}`);
  for (const index of indexes) await execute(tx, `DROP INDEX ${index.name}`);
  const result = await fill();
  for (const index of indexes) await execute(tx, index.definition);
  for (const c of constraints) await execute(tx, `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`);
  return result;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
