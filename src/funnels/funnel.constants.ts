import type { EventType } from '../events/event-types.js';

export interface FunnelStep {
  name: string;
  /** Default `pageview`. */
  eventType: EventType;
  /** Exact path, `*` matching any run of characters (`/product/*`); absent: any path. */
  path?: string;
  eventName?: string;
}

export const DEFAULT_FUNNEL_ID = 'default';

/**
 * Every project's built-in funnel: a typical shop. Entry is any pageview; Browse a category
 * listing; Product a product page; Cart the cart; Checkout any checkout page; Confirmation the
 * purchase, recorded as a `conversion` event.
 */
export const DEFAULT_FUNNEL = {
  id: DEFAULT_FUNNEL_ID,
  name: 'Shop purchase',
  steps: [
    { name: 'Entry', eventType: 'pageview' },
    { name: 'Browse', eventType: 'pageview', path: '/category/*' },
    { name: 'Product', eventType: 'pageview', path: '/product/*' },
    { name: 'Cart', eventType: 'pageview', path: '/cart' },
    { name: 'Checkout', eventType: 'pageview', path: '/checkout*' },
    { name: 'Confirmation', eventType: 'conversion' },
  ] satisfies FunnelStep[],
} as const;

/** A step path pattern as a LIKE pattern: `*` → `%`, LIKE's own wildcards escaped. */
export function toLikePattern(path: string): string {
  return path.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}
