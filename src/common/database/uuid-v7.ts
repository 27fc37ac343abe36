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
