/**
 * The stored `path` of an event's url: its pathname without query or fragment, trailing slashes
 * removed except for the root `/`. A bare path (`/cart?x=1`, `cart`) is read against the root.
 * An app's own scheme with a host only (`capacitor://localhost`) is the root. Null when the url
 * has no path from the root, so names no page (`mailto:a@b`, `javascript:void(0)`, `about:blank`:
 * their "path" would be `a@b`); undefined when it cannot be parsed.
 */
export function normalisePath(url: string): string | null | undefined {
  let pathname: string;
  try {
    pathname = new URL(url, 'http://path.invalid/').pathname;
  } catch {
    return undefined;
  }
  // empty: a scheme with a host only, the root below
  if (pathname !== '' && !pathname.startsWith('/')) return null;
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
  // after a host, as in a stored url: `//cdn/x` alone would be read as a host (https://x//cdn/x is stored `//cdn/x`)
  return normalisePath(`http://path.invalid${rooted}`) === rooted;
}
