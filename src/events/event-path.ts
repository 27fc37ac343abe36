/**
 * The stored `path` of an event's url: its pathname without query or fragment, trailing slashes
 * removed except for the root `/`. A bare path (`/cart?x=1`, `cart`) is read against the root.
 * Undefined when the url cannot be parsed.
 */
export function normalisePath(url: string): string | undefined {
  let pathname: string;
  try {
    pathname = new URL(url, 'http://path.invalid/').pathname;
  } catch {
    return undefined;
  }
  const trimmed = pathname.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}
