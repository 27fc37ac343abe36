import { AppError, type FieldError } from '../errors/app-error.js';
import { isStorableText, UNSTORABLE_JSON_ESCAPE } from '../text/storable-text.js';

/** Deeper bodies are refused: the validation pipe's object transformation recurses once per level (1,500 levels overflowed the stack: a 500). */
export const MAX_JSON_DEPTH = 64;

/**
 * Checks a parsed JSON body before anything reads it: nested at most MAX_JSON_DEPTH levels, and
 * (with `checkText`) no text or key holding a NUL character or an unpaired surrogate, which
 * PostgreSQL cannot store (it failed the insert: a 500) or the driver would silently replace.
 * Each such text is named by its path. The walk is iterative, and runs only when the raw text can
 * hold either problem (enough brackets, or such an escape), so ordinary bodies cost one scan.
 * `checkText` is off where the route reports such texts per item itself (event ingestion).
 */
export function checkJsonBody(raw: string, body: unknown, checkText: boolean): AppError | undefined {
  let brackets = 0;
  for (let i = 0; i < raw.length && brackets <= MAX_JSON_DEPTH; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) brackets++;
  }
  const mayBeDeep = brackets > MAX_JSON_DEPTH;
  const mayHoldBadText = checkText && UNSTORABLE_JSON_ESCAPE.test(raw);
  if (!mayBeDeep && !mayHoldBadText) return undefined;

  const errors: FieldError[] = [];
  const stack: [value: unknown, path: string, depth: number][] = [[body, '', 0]];
  while (stack.length > 0) {
    const [value, path, depth] = stack.pop()!;
    if (typeof value === 'string') {
      if (mayHoldBadText && !isStorableText(value))
        errors.push({ field: path || 'body', message: `${path || 'body'} must not contain NUL characters or lone surrogates` });
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_JSON_DEPTH) {
      return AppError.validation([{ field: path || 'body', message: `the body may be nested at most ${MAX_JSON_DEPTH} levels deep` }]);
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], `${path}[${i}]`, depth + 1]);
    } else {
      const entries = Object.entries(value as Record<string, unknown>).reverse();
      for (const [key, child] of entries) {
        const childPath = path ? `${path}.${key}` : key;
        if (mayHoldBadText && !isStorableText(key))
          errors.push({ field: childPath, message: `field names must not contain NUL characters or lone surrogates` });
        stack.push([child, childPath, depth + 1]);
      }
    }
  }
  return errors.length > 0 ? AppError.validation(errors) : undefined;
}
