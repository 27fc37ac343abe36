import type { EventType } from '../events/event-types.js';

export interface FunnelMatcher {
  /** Default `pageview`. */
  eventType: EventType;
  /** Exact path, `*` matching any run of characters (`/product/*`); absent: any path. */
  path?: string;
  eventName?: string;
}

export interface FunnelStep extends FunnelMatcher {
  name: string;
  /** Further matchers: an event matching any of them reaches the step too. */
  alternatives?: FunnelMatcher[];
}

const pageviews = (...paths: string[]): FunnelMatcher[] => paths.map((path) => ({ eventType: 'pageview', path }));

export const DEFAULT_FUNNEL_ID = 'default';

/**
 * Every project's built-in funnel: a typical shop, with the URL shapes common shop engines use.
 * Entry is any pageview; Browse a listing (category, collection, search, all products); Product a
 * product page; Cart the cart or basket; Checkout any checkout page; Confirmation the purchase —
 * a `conversion` event or an order-confirmation / thank-you page.
 */
export const DEFAULT_FUNNEL: { id: string; name: string; steps: FunnelStep[] } = {
  id: DEFAULT_FUNNEL_ID,
  name: 'Shop purchase',
  steps: [
    { name: 'Entry', eventType: 'pageview' },
    {
      name: 'Browse',
      eventType: 'pageview',
      path: '/category*',
      alternatives: pageviews('/categories*', '/collections*', '/products', '/shop*', '/search*', '/browse*'),
    },
    { name: 'Product', eventType: 'pageview', path: '/product/*', alternatives: pageviews('/products/*', '/p/*', '/item/*') },
    { name: 'Cart', eventType: 'pageview', path: '/cart*', alternatives: pageviews('/basket*', '/bag*') },
    { name: 'Checkout', eventType: 'pageview', path: '/checkout*' },
    {
      name: 'Confirmation',
      eventType: 'conversion',
      alternatives: pageviews(
        '/confirmation*',
        '/order-confirmation*',
        '/order/confirmation*',
        '/thank-you*',
        '/thankyou*',
        '/checkout/success*',
        '/checkout/complete*',
      ),
    },
  ],
};

/** A step path pattern as a LIKE pattern: `*` → `%`, LIKE's own wildcards escaped. */
export function toLikePattern(path: string): string {
  return path.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}
