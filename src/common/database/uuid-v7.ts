import { randomUUID } from 'node:crypto';

/**
 * A version 7 UUID (RFC 9562: 48-bit Unix milliseconds, then random bits), made here because
 * PostgreSQL's uuidv7() exists only from version 18. For keys written in bulk: ids that grow with
 * time land on the right edge of their btree, where random ones (gen_random_uuid) dirty a
 * different index page for nearly every row. The random bits and the variant come from a v4 UUID
 * (randomUUID draws from a buffered pool; a randomBytes call per id cost more than the insert).
 */
export function uuidV7(unixMs: number): string {
  const time = Math.max(0, Math.floor(unixMs)).toString(16).padStart(12, '0').slice(-12);
  const random = randomUUID();
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
}

/**
 * The start of a run of version 7 UUIDs for one instant, numbered in SQL by
 * {@link UUID_V7_RUN_SQL}: a fresh {@link uuidV7} whose last 48 bits become a counter (RFC 9562
 * §6.2, method 2: a randomly seeded counter in the random bits). Its top bit starts clear, so the
 * counter never carries into the bits before it. Ids of one run grow in order; two runs of the
 * same millisecond differ in 26 random bits and almost surely in their counters' ranges too.
 */
export function uuidV7Run(unixMs: number): { prefix: string; start: number } {
  const id = uuidV7(unixMs);
  return { prefix: id.slice(0, 24), start: parseInt(id.slice(24), 16) % 2 ** 47 };
}

/** The SQL of the `n`-th id (n ≥ 1) of a run made by {@link uuidV7Run}, from its prefix and start parameters. */
export const UUID_V7_RUN_SQL = (prefix: string, start: string, n: string) =>
  `(${prefix}::text || lpad(to_hex(${start}::bigint + ${n}), 12, '0'))::uuid`;
