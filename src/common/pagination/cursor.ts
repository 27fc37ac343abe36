import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { AppError } from '../errors/app-error.js';
import { ValidatesWith } from '../http/validation.js';

/**
 * Keyset pagination: the cursor is an opaque token holding the sort key of the last row returned,
 * so pages stay stable while rows are added.
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** What each part of a cursor key must be, so a forged cursor is a 400 and never reaches SQL as a bad cast. */
export type CursorPart = 'timestamp' | 'uuid' | 'integer' | 'text';

const CURSOR_PART_TESTS: Record<CursorPart, (value: string | number) => boolean> = {
  // Cursors carry Date#toISOString() output; anything else (e.g. 2025-02-30, which Date rolls over) is forged.
  timestamp: (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)) && new Date(v).toISOString() === v,
  uuid: (v) => typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  integer: (v) => (typeof v === 'string' || typeof v === 'number') && /^\d{1,18}$/.test(String(v)),
  text: (v) => typeof v === 'string',
};

/** The key array a cursor token holds (strings and numbers), or undefined when the text is no cursor at all. */
function readCursorKey(cursor: string): (string | number)[] | undefined {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length > 0 && key.every((part) => typeof part === 'string' || typeof part === 'number')) return key;
  } catch {
    // not base64url JSON: no cursor
  }
  return undefined;
}

const NOT_A_CURSOR = 'cursor is not one this API returned';

/**
 * The key of a cursor this API returned; `kinds` says what each part must be (checked, so a forged
 * key gives VALIDATION_FAILED rather than a failed cast in SQL).
 */
export function decodeCursor(cursor: string | undefined, kinds: readonly CursorPart[]): (string | number)[] | undefined {
  if (cursor === undefined) return undefined;
  const key = readCursorKey(cursor);
  if (key && key.length === kinds.length && kinds.every((kind, i) => CURSOR_PART_TESTS[kind](key[i]))) return key;
  throw AppError.validation([{ field: 'cursor', message: NOT_A_CURSOR }]);
}

/**
 * The query field holds a cursor token at all, checked with the other fields so one 400 names
 * every bad field; the parts of its key are checked by decodeCursor, which knows the endpoint's order.
 */
function IsCursorToken() {
  return ValidatesWith('isCursorToken', (value) => typeof value === 'string' && readCursorKey(value) !== undefined, NOT_A_CURSOR);
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** Rows fetched with `limit + 1` become a page; the extra row only says another page exists. */
export function toPage<R, T>(rows: R[], limit: number, toItem: (row: R) => T, keyOf: (row: R) => (string | number)[]): Page<T> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  return {
    data: pageRows.map(toItem),
    nextCursor: hasMore ? encodeCursor(keyOf(pageRows[pageRows.length - 1])) : null,
  };
}

export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit: number = 50;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  @IsCursorToken()
  cursor?: string;
}
