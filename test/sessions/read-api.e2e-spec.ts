import { FixedClock } from '../../src/common/clock/clock.js';
import { aggregate, ingest, pageview } from '../factories/events.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('sessions list, stats, journeys and funnels', () => {
  const clock = new FixedClock(new Date('2025-04-02T00:00:00.000Z'));
  let t: TestApp;
  let shop: ProjectFixture;
  const read = (path: string) => t.request({ url: `/v1/projects/${shop.id}${path}`, key: shop.keys.read });

  beforeAll(async () => {
    t = await startTestApp({ clock });
    shop = await createProject(t);
    await ingest(t, shop, [
      // A: / → /category/shoes → /product/1 → /cart → /checkout, converted; 10:00 → 10:10 = 600 s
      pageview('A', '/', '2025-04-01T10:00:00Z'),
      pageview('A', '/category/shoes', '2025-04-01T10:02:00Z'),
      pageview('A', '/product/1', '2025-04-01T10:04:00Z'),
      pageview('A', '/cart', '2025-04-01T10:06:00Z'),
      pageview('A', '/checkout', '2025-04-01T10:08:00Z'),
      { sessionId: 'A', type: 'conversion', occurredAt: '2025-04-01T10:10:00Z' },
      // B: / → /category/shoes → /cart → /product/2 (cart before product); 11:00 → 11:03 = 180 s
      pageview('B', '/', '2025-04-01T11:00:00Z'),
      pageview('B', '/category/shoes', '2025-04-01T11:01:00Z'),
      pageview('B', '/cart', '2025-04-01T11:02:00Z'),
      pageview('B', '/product/2', '2025-04-01T11:03:00Z'),
      // C: one pageview, a bounce; no duration
      pageview('C', '/', '2025-04-01T12:00:00Z'),
      // D: no pageview; 13:00 → 13:01 = 60 s
      { sessionId: 'D', type: 'signal', occurredAt: '2025-04-01T13:00:00Z' },
      { sessionId: 'D', type: 'signal', occurredAt: '2025-04-01T13:01:00Z' },
      // E: outside the range (the day before)
      pageview('E', '/', '2025-03-31T09:00:00Z'),
    ]);
    await aggregate(t);
  });
  afterAll(() => t.close());

  const range = 'from=2025-04-01T00:00:00Z&to=2025-04-02T00:00:00Z';

  it('lists sessions started in [from, to) newest first, page by page, with filters', async () => {
    const first = await read(`/sessions?${range}&limit=3`);
    expect(first.body.data.map((s: { sessionId: string }) => s.sessionId)).toEqual(['D', 'C', 'B']);
    const second = await read(`/sessions?${range}&limit=3&cursor=${first.body.nextCursor}`);
    expect(second.body).toMatchObject({ data: [{ sessionId: 'A' }], nextCursor: null });
    const converted = await read(`/sessions?${range}&converted=true`);
    expect(converted.body.data.map((s: { sessionId: string }) => s.sessionId)).toEqual(['A']);
    const bounced = await read(`/sessions?bounced=true`);
    expect(bounced.body.data.map((s: { sessionId: string }) => s.sessionId)).toEqual(['C', 'E']);
    expect((await read(`/sessions?status=completed`)).body.data).toHaveLength(5);
  });

  it('reads range bounds written without an offset as UTC, not the server time zone', async () => {
    // [10:30Z, 12:30Z) holds B (11:00) and C (12:00).
    const res = await read(`/sessions?from=2025-04-01T10:30:00&to=2025-04-01T12:30:00`);
    expect(res.body.data.map((s: { sessionId: string }) => s.sessionId)).toEqual(['C', 'B']);
    const report = await read(`/funnels/default/report?from=2025-04-01T10:30:00&to=2025-04-01%2012:30:00`);
    expect(report.body).toMatchObject({ from: '2025-04-01T10:30:00.000Z', to: '2025-04-01T12:30:00.000Z' });
    // Entry: B and C; Browse onwards: B only (C is a single pageview of /).
    expect(report.body.stages.slice(0, 2).map((s: { visitors: number }) => s.visitors)).toEqual([2, 1]);
  });

  it('computes session stats by their definitions', async () => {
    const res = await read(`/stats/sessions?${range}`);
    // 4 sessions (A B C D); with a pageview: A B C, bounced C → 1/3; converted A → 1/4;
    // durations 600, 180, 60 (C has none): avg 280, median 180; pages 5+4+1+0 = 10 → 2.5.
    expect(res.body).toEqual({
      sessions: 4,
      completedSessions: 4,
      bounceRate: 1 / 3,
      conversionRate: 0.25,
      avgDurationSeconds: 280,
      medianDurationSeconds: 180,
      pagesPerSession: 2.5,
    });
    const empty = await read(`/stats/sessions?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z`);
    expect(empty.body).toEqual({
      sessions: 0,
      completedSessions: 0,
      bounceRate: null,
      conversionRate: null,
      avgDurationSeconds: null,
      medianDurationSeconds: null,
      pagesPerSession: null,
    });
  });

  it('lists the most common whole journeys', async () => {
    await ingest(t, shop, [pageview('F', '/', '2025-04-01T14:00:00Z')]);
    await aggregate(t);
    const res = await read(`/journeys/paths?${range}`);
    // Sessions with a pageview: A B C F; ['/'] twice (C, F) → 2/4.
    expect(res.body.data).toEqual([
      { path: ['/'], sessions: 2, share: 0.5 },
      { path: ['/', '/category/shoes', '/cart', '/product/2'], sessions: 1, share: 0.25 },
      { path: ['/', '/category/shoes', '/product/1', '/cart', '/checkout'], sessions: 1, share: 0.25 },
    ]);
  });

  it('counts page-to-page transitions with entries from null and exits to null', async () => {
    const res = await read(`/journeys/transitions?${range}&limit=100`);
    const transitions = Object.fromEntries(
      res.body.data.map((d: { from: string | null; to: string | null; sessions: number }) => [`${d.from}>${d.to}`, d.sessions]),
    );
    expect(transitions).toEqual({
      'null>/': 4,
      '/>/category/shoes': 2,
      '/>null': 2,
      '/category/shoes>/product/1': 1,
      '/category/shoes>/cart': 1,
      '/product/1>/cart': 1,
      '/cart>/checkout': 1,
      '/checkout>null': 1,
      '/cart>/product/2': 1,
      '/product/2>null': 1,
    });
  });

  it('reports the default funnel in time order: cart before product does not reach Cart', async () => {
    const res = await read(`/funnels/default/report?${range}`);
    // Entry A B C F = 4; Browse A B = 2; Product A B = 2; Cart: A only (B saw the cart before the product) = 1;
    // Checkout A = 1; Confirmation A = 1.
    expect(res.body).toEqual({
      funnelId: 'default',
      from: '2025-04-01T00:00:00.000Z',
      to: '2025-04-02T00:00:00.000Z',
      stages: [
        { stage: 'Entry', visitors: 4, dropOffRate: 0.5, conversionFromStart: 1 },
        { stage: 'Browse', visitors: 2, dropOffRate: 0, conversionFromStart: 0.5 },
        { stage: 'Product', visitors: 2, dropOffRate: 0.5, conversionFromStart: 0.5 },
        { stage: 'Cart', visitors: 1, dropOffRate: 0, conversionFromStart: 0.25 },
        { stage: 'Checkout', visitors: 1, dropOffRate: 0, conversionFromStart: 0.25 },
        { stage: 'Confirmation', visitors: 1, dropOffRate: null, conversionFromStart: 0.25 },
      ],
    });
  });

  it('pages the funnel list: the built-in one first, then custom ones oldest first', async () => {
    const other = await createProject(t, { name: 'pages' });
    const ids: string[] = [];
    for (const name of ['one', 'two', 'three']) {
      const res = await t.request({
        method: 'POST',
        url: `/v1/projects/${other.id}/funnels`,
        key: other.keys.admin,
        body: {
          name,
          steps: [
            { name: 'a', path: '/a' },
            { name: 'b', path: '/b' },
          ],
        },
      });
      ids.push(res.body.id);
    }
    const page = async (query: string) => (await t.request({ url: `/v1/projects/${other.id}/funnels${query}`, key: other.keys.read })).body;
    const idsOf = (body: { data: { id: string }[] }) => body.data.map((f) => f.id);
    const all = await page('');
    // creation order, but funnels made within one millisecond follow their ids: compare as sets
    const order = idsOf(all);
    expect([order[0], new Set(order.slice(1)), all.nextCursor]).toEqual(['default', new Set(ids), null]);
    const first = await page('?limit=2');
    expect(idsOf(first)).toEqual(order.slice(0, 2));
    const second = await page(`?limit=2&cursor=${first.nextCursor}`);
    expect([idsOf(second), second.nextCursor]).toEqual([order.slice(2), null]);
    // a page of one holds the built-in funnel only; the next begins with the first custom one
    const only = await page('?limit=1');
    expect(idsOf(only)).toEqual(['default']);
    expect(idsOf(await page(`?limit=1&cursor=${only.nextCursor}`))).toEqual([order[1]]);
  });

  it('creates, lists, reports and deletes a custom funnel', async () => {
    const created = await t.request({
      method: 'POST',
      url: `/v1/projects/${shop.id}/funnels`,
      key: shop.keys.admin,
      body: {
        name: 'Cart first',
        steps: [
          { name: 'Cart', path: '/cart' },
          { name: 'Any product', path: '/product/*' },
        ],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Cart first',
      steps: [
        { name: 'Cart', eventType: 'pageview', path: '/cart' },
        { name: 'Any product', eventType: 'pageview', path: '/product/*' },
      ],
    });
    const list = await read('/funnels');
    expect(list.body.data.map((f: { id: string }) => f.id)).toEqual(['default', created.body.id]);
    const report = await read(`/funnels/${created.body.id}/report?${range}`);
    // Cart: A B; a product after the cart: only B.
    expect(report.body.stages).toEqual([
      { stage: 'Cart', visitors: 2, dropOffRate: 0.5, conversionFromStart: 1 },
      { stage: 'Any product', visitors: 1, dropOffRate: null, conversionFromStart: 0.5 },
    ]);
    const del = await t.request({ method: 'DELETE', url: `/v1/projects/${shop.id}/funnels/${created.body.id}`, key: shop.keys.admin });
    expect(del.status).toBe(204);
    expect((await read(`/funnels/${created.body.id}/report`)).body.code).toBe('FUNNEL_NOT_FOUND');
  });

  it('rejects bad funnels, deleting the default, and writes with a read key', async () => {
    const post = (body: unknown, key = shop.keys.admin) => t.request({ method: 'POST', url: `/v1/projects/${shop.id}/funnels`, key, body });
    expect((await post({ name: 'One', steps: [{ name: 'a' }] })).status).toBe(400);
    expect((await post({ name: 'Bad type', steps: [{ name: 'a', eventType: 'click' }, { name: 'b' }] })).status).toBe(400);
    // a pattern no stored path can match (paths are stored from the root, without query or trailing slash)
    // nor one written other than as paths are stored: percent-encoded, with / and without dot segments
    for (const path of ['product/*', '/cart/', '/search?q=*', '', '/caf\u00e9', '/a b', '/x/../y', '/a\\b', '/products/*/"new"']) {
      const res = await post({ name: 'Never', steps: [{ name: 'a' }, { name: 'b', path }] });
      expect([path, res.status, res.body.errors?.[0]?.field]).toEqual([path, 400, 'steps[1].path']);
    }
    for (const path of ['/', '*', '/product/*', '*/cart', '/a', '/caf%C3%A9', '/a%20b']) {
      const res = await post({ name: `Fine ${path}`, steps: [{ name: 'a' }, { name: 'b', path }] });
      expect([path, res.status]).toEqual([path, 201]);
    }
    expect((await post({ name: 'Ok', steps: [{ name: 'a' }, { name: 'b' }] }, shop.keys.read)).status).toBe(403);
    const del = await t.request({ method: 'DELETE', url: `/v1/projects/${shop.id}/funnels/default`, key: shop.keys.admin });
    expect(del.body.code).toBe('FUNNEL_READ_ONLY');
  });

  it('rejects bad dates and an inverted range with 400', async () => {
    expect((await read('/sessions?from=yesterday')).status).toBe(400);
    expect((await read('/stats/sessions?from=2025-04-02T00:00:00Z&to=2025-04-01T00:00:00Z')).status).toBe(400);
    expect((await read('/sessions?limit=501')).status).toBe(400);
  });

  it('names every bad field of a query in one 400, the cursor among them', async () => {
    const res = await read('/sessions?cursor=abc&limit=0&status=x');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect([...new Set(res.body.errors.map((e: { field: string }) => e.field))].sort()).toEqual(['cursor', 'limit', 'status']);
  });
});
