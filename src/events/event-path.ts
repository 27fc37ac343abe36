/**
 * The stored `path` of an event's url: its pathname without query or fragment, trailing slashes
 * removed except for the root `/`. A bare path (`/cart?x=1`, `cart`) is read against the root.
 * Undefined when the url cannot be parsed, or has no path from the root (`mailto:a@b`,
 * `javascript:void(0)`: their "path" would be `a@b`, a page of no site).
 */
export function normalisePath(url: string): string | undefined {
  let pathname: string;
  try {
    pathname = new URL(url, 'http://path.invalid/').pathname;
  } catch {
    return undefined;
  }
  if (!pathname.startsWith('/')) return undefined;
  const trimmed = pathname.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/**
 * Whether a funnel pattern (`*` any run of characters) is written as stored paths are, so that it
 * can match one: normalising it (each `*` read as a character) changes nothing. `/café` is stored
 * `/caf%C3%A9`, `/a b` as `/a%20b`, `/x/../y` as `/y`, `\` as `/`: such a pattern would match
 * nothing, silently.
 */
export function isStoredPathPattern(pattern: string): boolean {
  const probe = pattern.replaceAll('*', 'x');
  const rooted = probe.startsWith('/') ? probe : `/${probe}`;
  return normalisePath(rooted) === rooted;
}
