import { aggregate, ingest, pageview } from '../factories/events.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('funnel step matchers', () => {
  let t: TestApp;
  let shop: ProjectFixture;
  const range = 'from=2025-06-01T00:00:00Z&to=2025-06-02T00:00:00Z';

  beforeAll(async () => {
    t = await startTestApp();
    shop = await createProject(t);
    await ingest(t, shop, [
      // S1, a Shopify-style shop: listing /collections/all, product /products/…, basket, checkout, thank-you page.
      pageview('S1', '/', '2025-06-01T09:00:00Z'),
      pageview('S1', '/collections/all', '2025-06-01T09:01:00Z'),
      pageview('S1', '/products/red-shoe', '2025-06-01T09:02:00Z'),
      pageview('S1', '/basket', '2025-06-01T09:03:00Z'),
      pageview('S1', '/checkout/shipping', '2025-06-01T09:04:00Z'),
      pageview('S1', '/thank-you', '2025-06-01T09:05:00Z'),
      // S2: search, then a product, then leaves.
      pageview('S2', '/', '2025-06-01T10:00:00Z'),
      pageview('S2', '/search', '2025-06-01T10:01:00Z', { url: 'https://shop.example/search?q=shoe' }),
      pageview('S2', '/product/9', '2025-06-01T10:02:00Z'),
      // S3: lands on a product page directly: Entry only (Browse never came first).
      pageview('S3', '/product/9', '2025-06-01T11:00:00Z'),
    ]);
    await aggregate(t);
  });
  afterAll(() => t.close());

  it('reaches every default stage through the alternative URL shapes of common shops', async () => {
    const res = await t.request({ url: `/v1/projects/${shop.id}/funnels/default/report?${range}`, key: shop.keys.read });
    expect(res.status).toBe(200);
    // Entry 3; Browse S1, S2 = 2; Product S1, S2 = 2; Cart S1 = 1; Checkout 1; Confirmation 1.
    expect(res.body.stages.map((s: { stage: string; visitors: number }) => [s.stage, s.visitors])).toEqual([
      ['Entry', 3],
      ['Browse', 2],
      ['Product', 2],
      ['Cart', 1],
      ['Checkout', 1],
      ['Confirmation', 1],
    ]);
    // Drop-off Product → Cart = (2 − 1) / 2.
    expect(res.body.stages[2].dropOffRate).toBe(0.5);
  });

  it('counts the events a session was aggregated from: a later event counts once the aggregation has read it', async () => {
    const stages = async () =>
      (await t.request({ url: `/v1/projects/${shop.id}/funnels/default/report?${range}`, key: shop.keys.read })).body.stages.map(
        (s: { visitors: number }) => s.visitors,
      );
    // S2 goes on to the basket, checkout and thank-you page after it was aggregated
    await ingest(t, shop, [
      pageview('S2', '/basket', '2025-06-01T10:03:00Z'),
      pageview('S2', '/checkout', '2025-06-01T10:04:00Z'),
      pageview('S2', '/thank-you', '2025-06-01T10:05:00Z'),
    ]);
    expect(await stages()).toEqual([3, 2, 2, 1, 1, 1]);
    await aggregate(t);
    expect(await stages()).toEqual([3, 2, 2, 2, 2, 2]);
  });

  it('reads null matcher fields as absent: a step { path: null } matches any path, not a 500', async () => {
    const created = await t.request({
      method: 'POST',
      url: `/v1/projects/${shop.id}/funnels`,
      key: shop.keys.admin,
      body: {
        name: 'Nulls',
        steps: [
          { name: 'Any page', eventType: null, path: null, eventName: null },
          { name: 'Product', path: '/product/*', alternatives: [{ path: null, eventName: null, eventType: 'conversion' }] },
        ],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.steps).toEqual([
      { name: 'Any page', eventType: 'pageview' },
      { name: 'Product', eventType: 'pageview', path: '/product/*', alternatives: [{ eventType: 'conversion' }] },
    ]);
    const report = await t.request({ url: `/v1/projects/${shop.id}/funnels/${created.body.id}/report?${range}`, key: shop.keys.read });
    expect(report.status).toBe(200);
    // Any page: S1, S2, S3. Product after it: S2 (/search → /product/9); S3's only pageview is its entry;
    // S1 has no /product/* page and no conversion event.
    expect(report.body.stages.map((s: { visitors: number }) => s.visitors)).toEqual([3, 1]);
  });

  it('lets a custom funnel step match any of several patterns', async () => {
    const created = await t.request({
      method: 'POST',
      url: `/v1/projects/${shop.id}/funnels`,
      key: shop.keys.admin,
      body: {
        name: 'Find a product',
        steps: [
          { name: 'Discover', path: '/search', alternatives: [{ path: '/collections/*' }] },
          { name: 'Product', path: '/product/*', alternatives: [{ path: '/products/*' }] },
        ],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.steps[0]).toEqual({
      name: 'Discover',
      eventType: 'pageview',
      path: '/search',
      alternatives: [{ eventType: 'pageview', path: '/collections/*' }],
    });
    const res = await t.request({ url: `/v1/projects/${shop.id}/funnels/${created.body.id}/report?${range}`, key: shop.keys.read });
    // S1 via /collections/all then /products/red-shoe; S2 via /search then /product/9.
    expect(res.body.stages.map((s: { visitors: number }) => s.visitors)).toEqual([2, 2]);
  });
});
