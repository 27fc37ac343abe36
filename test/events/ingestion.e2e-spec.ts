import { FixedClock } from '../../src/common/clock/clock.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('event ingestion', () => {
  const clock = new FixedClock(new Date('2025-06-15T12:00:00.000Z'));
  let t: TestApp;
  let shop: ProjectFixture;
  let other: ProjectFixture;
  const url = () => `/v1/projects/${shop.id}/events`;
  const post = (body: unknown, key = shop.keys.ingest) => t.request({ method: 'POST', url: url(), key, body });

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { INGEST_MAX_EVENTS: '5' } });
    shop = await createProject(t);
    other = await createProject(t, { name: 'Other' });
  });
  afterAll(() => t.close());

  it('stores valid events with a normalised path and lists invalid ones by index', async () => {
    const res = await post({
      events: [
        { sessionId: 's1', type: 'pageview', url: 'https://shop.example/product/7/?utm=x#reviews', occurredAt: '2025-06-15T11:00:00Z' },
        { sessionId: 's1', type: 'click', occurredAt: '2025-06-15T11:00:00Z' },
        { sessionId: 's1', type: 'pageview', occurredAt: '2025-06-15T11:00:00Z' },
        { sessionId: 's1', type: 'custom', occurredAt: '2025-06-15T11:00:00Z' },
        { sessionId: 's1', type: 'signal', occurredAt: 'yesterday' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(1);
    expect(res.body.duplicates).toBe(0);
    expect(res.body.rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([
      [1, 'EVENT_INVALID'],
      [2, 'EVENT_INVALID'],
      [3, 'EVENT_INVALID'],
      [4, 'EVENT_INVALID'],
    ]);
    const rows = await t.sql(`SELECT path, received_at FROM tracking_events WHERE project_id = $1`, [shop.id]);
    expect(rows).toEqual([{ path: '/product/7', received_at: new Date('2025-06-15T12:00:00.000Z') }]);
  });

  it('rejects an event more than 5 minutes in the future and accepts one 5 minutes ahead', async () => {
    const res = await post({
      events: [
        { sessionId: 's2', type: 'signal', occurredAt: '2025-06-15T12:05:00.000Z' },
        { sessionId: 's2', type: 'signal', occurredAt: '2025-06-15T12:05:00.001Z' },
      ],
    });
    expect(res.body).toMatchObject({ accepted: 1, rejected: [{ index: 1, code: 'EVENT_IN_FUTURE' }] });
  });

  it('accepts historical events of any age, creating their month partition on arrival', async () => {
    const res = await post({ events: [{ sessionId: 'old', type: 'signal', occurredAt: '1999-02-03T04:05:06Z' }] });
    expect(res.body).toMatchObject({ accepted: 1, rejected: [] });
    const partitions = await t.sql(`SELECT tableoid::regclass::text AS p FROM tracking_events WHERE session_id = 'old'`);
    expect(partitions).toEqual([{ p: 'tracking_events_p199902' }]);
  });

  it('rejects unknown fields, oversized properties and strings PostgreSQL cannot store', async () => {
    const res = await post({
      events: [
        { sessionId: 's3', type: 'signal', occurredAt: '2025-06-15T11:00:00Z', colour: 'red' },
        { sessionId: 's3', type: 'signal', occurredAt: '2025-06-15T11:00:00Z', properties: { blob: 'x'.repeat(17 * 1024) } },
        { sessionId: 's3', type: 'signal', occurredAt: '2025-06-15T11:00:00Z', properties: { nul: 'a\u0000b' } },
        { sessionId: 'x'.repeat(129), type: 'signal', occurredAt: '2025-06-15T11:00:00Z' },
        { sessionId: 's3', type: 'signal', occurredAt: '2025-02-30T11:00:00Z' },
      ],
    });
    expect(res.body.accepted).toBe(0);
    expect(res.body.rejected.map((r: { index: number }) => r.index)).toEqual([0, 1, 2, 3, 4]);
    // a url that names no page (its "path" would be a@b.example): no pageview, and no path for other events
    const mail = await post({
      events: [
        { sessionId: 's3', type: 'pageview', occurredAt: '2025-06-15T11:00:00Z', url: 'mailto:a@b.example' },
        {
          eventId: '6f1c2f52-4a55-4d43-9a4e-2b7a2f0c1d01',
          sessionId: 's3',
          type: 'conversion',
          occurredAt: '2025-06-15T11:00:00Z',
          url: 'mailto:a@b.example',
        },
        {
          eventId: '6f1c2f52-4a55-4d43-9a4e-2b7a2f0c1d02',
          sessionId: 's3',
          type: 'pageview',
          occurredAt: '2025-06-15T11:00:00Z',
          url: 'capacitor://localhost',
        },
      ],
    });
    expect(mail.body.accepted).toBe(2);
    expect(mail.body.rejected).toEqual([
      expect.objectContaining({
        index: 0,
        errors: [{ field: 'url', message: 'a pageview url must name a page: a path from the root, not mailto:, javascript: or the like' }],
      }),
    ]);
    const stored = await t.sql(
      `SELECT event_id::text AS id, path FROM tracking_events WHERE project_id = $1 AND event_id::text LIKE '6f1c2f52-%' ORDER BY 1`,
      [shop.id],
    );
    expect(stored).toEqual([
      { id: '6f1c2f52-4a55-4d43-9a4e-2b7a2f0c1d01', path: null },
      { id: '6f1c2f52-4a55-4d43-9a4e-2b7a2f0c1d02', path: '/' },
    ]);
  });

  it('names every bad field of a rejected event, and says EVENT_IN_FUTURE only when that is all', async () => {
    const res = await post({
      events: [
        { sessionId: '', type: 'click', occurredAt: 'nope', colour: 'red', url: 5 },
        { sessionId: 's4', type: 'pageview', occurredAt: '2025-06-15T13:00:00Z' },
        { sessionId: 's4', type: 'signal', occurredAt: '2025-06-15T13:00:00Z' },
        'not an event',
      ],
    });
    expect(res.body.accepted).toBe(0);
    const [all, pageview, future, notObject] = res.body.rejected;
    expect(all.code).toBe('EVENT_INVALID');
    expect(all.errors.map((e: { field: string }) => e.field)).toEqual(['colour', 'sessionId', 'type', 'url', 'occurredAt']);
    expect(all.message).toBe(all.errors.map((e: { message: string }) => e.message).join('; '));
    // a pageview without url that is also in the future: two problems, so EVENT_INVALID
    expect(pageview).toMatchObject({ index: 1, code: 'EVENT_INVALID' });
    expect(pageview.errors).toEqual([
      { field: 'url', message: 'url is required for pageview events' },
      { field: 'occurredAt', message: 'occurredAt is more than 5 minutes in the future' },
    ]);
    expect(future).toEqual({
      index: 2,
      code: 'EVENT_IN_FUTURE',
      message: 'occurredAt is more than 5 minutes in the future',
      errors: [{ field: 'occurredAt', message: 'occurredAt is more than 5 minutes in the future' }],
    });
    expect(notObject.errors).toEqual([{ field: 'event', message: 'event must be a JSON object' }]);
  });

  it('rejects a day the calendar does not have, whatever the offset', async () => {
    const res = await post({
      events: [
        { sessionId: 'cal', type: 'signal', occurredAt: '2025-02-30T10:00:00+02:00' },
        { sessionId: 'cal', type: 'signal', occurredAt: '2025-02-29T10:00:00-05:00' },
        { sessionId: 'cal', type: 'signal', occurredAt: '2025-04-31T10:00:00+0000' },
        { sessionId: 'cal', type: 'signal', occurredAt: '2024-02-29T10:00:00+02:00' }, // 3 valid: a leap day
      ],
    });
    expect(res.body.rejected.map((r: { index: number }) => r.index)).toEqual([0, 1, 2]);
    expect(res.body.accepted).toBe(1);
    const stored = await t.sql(`SELECT occurred_at FROM tracking_events WHERE session_id = 'cal'`);
    expect(stored).toEqual([{ occurred_at: new Date('2024-02-29T08:00:00Z') }]);
  });

  it('counts the characters of a text as code points, as the tables do (an emoji is one)', async () => {
    const emoji = '\u{1F600}';
    const res = await post({
      events: [
        { sessionId: emoji.repeat(128), type: 'signal', occurredAt: '2025-06-15T11:00:00Z', userId: emoji.repeat(128) },
        { sessionId: emoji.repeat(129), type: 'signal', occurredAt: '2025-06-15T11:00:00Z' },
        { sessionId: 's-emoji', type: 'signal', occurredAt: '2025-06-15T11:00:00Z', userId: emoji.repeat(129) },
      ],
    });
    expect(res.body).toMatchObject({ accepted: 1 });
    expect(res.body.rejected.map((r: { index: number }) => r.index)).toEqual([1, 2]);
  });

  it.each([
    ['a body that is not { events }', { foo: 1 }],
    ['events that is not an array', { events: 'x' }],
    ['an empty batch', { events: [] }],
    [
      'a batch over INGEST_MAX_EVENTS',
      { events: Array.from({ length: 6 }, () => ({ sessionId: 's', type: 'signal', occurredAt: '2025-06-15T11:00:00Z' })) },
    ],
  ])('answers 400 VALIDATION_FAILED to %s', async (_name, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });

  it('answers 400 to a bare array body', async () => {
    const res = await post([]);
    expect(res.status).toBe(400);
  });

  it('answers 413 PAYLOAD_TOO_LARGE to a body over 1 MiB', async () => {
    const big = JSON.stringify({
      events: [{ sessionId: 's', type: 'signal', occurredAt: '2025-06-15T11:00:00Z', properties: { x: 'y'.repeat(1024 * 1024) } }],
    });
    const res = await t.request({ method: 'POST', url: url(), key: shop.keys.ingest, payload: big, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 403 to a read key and to another project key, 404 to an unknown project, 401 without a key', async () => {
    const body = { events: [{ sessionId: 's', type: 'signal', occurredAt: '2025-06-15T11:00:00Z' }] };
    expect((await post(body, shop.keys.read)).status).toBe(403);
    expect((await post(body, other.keys.ingest)).status).toBe(403);
    const unknown = await t.request({ method: 'POST', url: '/v1/projects/2b1f8a4e-0000-4000-8000-000000000000/events', body });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('PROJECT_NOT_FOUND');
    expect((await t.request({ method: 'POST', url: url(), key: null, body })).status).toBe(401);
  });
});
