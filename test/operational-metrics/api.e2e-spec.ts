import { FixedClock } from '../../src/common/clock/clock.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const SYSTEM_PROJECT_ID = '00000000-0000-0000-0000-000000000000';

describe('operational metrics client API', () => {
  let t: TestApp;
  let shop: ProjectFixture;
  let other: ProjectFixture;
  const url = () => `/v1/projects/${shop.id}/operational-metrics`;
  const post = (metrics: unknown, key = shop.keys.ingest) => t.request({ method: 'POST', url: url(), key, body: { metrics } });

  beforeAll(async () => {
    t = await startTestApp({ clock: new FixedClock(new Date('2026-03-10T12:00:00Z')) });
    shop = await createProject(t, { name: 'Shop' });
    other = await createProject(t, { name: 'Other' });
  });
  afterAll(() => t.close());

  it('stores a batch and lists it newest first, page by page', async () => {
    const res = await post([
      { type: 'token_usage', value: 1530, labels: { model: 'gpt-4o-mini', actor: 'summariser' }, recordedAt: '2026-03-10T11:00:00Z' },
      { type: 'confidence', value: 0.87, labels: { actor: 'matcher', bucket: 'high' }, recordedAt: '2026-03-10T11:30:00.123Z' },
      { type: 'queue_depth', value: 0 },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 3, rejected: [] });

    const first = await t.request({ url: `${url()}?limit=2`, key: shop.keys.read });
    expect(first.status).toBe(200);
    expect(first.body.data).toEqual([
      {
        id: expect.any(String),
        type: 'queue_depth',
        value: 0,
        labels: {},
        labelsKey: '',
        recordedAt: '2026-03-10T12:00:00.000Z',
        receivedAt: expect.any(String),
      },
      expect.objectContaining({ type: 'confidence', value: 0.87, labelsKey: 'actor:matcher|bucket:high', recordedAt: '2026-03-10T11:30:00.123Z' }),
    ]);
    const second = await t.request({ url: `${url()}?limit=2&cursor=${first.body.nextCursor}`, key: shop.keys.read });
    expect(second.body).toEqual({
      data: [
        expect.objectContaining({
          type: 'token_usage',
          value: 1530,
          labels: { actor: 'summariser', model: 'gpt-4o-mini' },
          labelsKey: 'actor:summariser|model:gpt-4o-mini',
        }),
      ],
      nextCursor: null,
    });
    const filtered = await t.request({ url: `${url()}?type=confidence&labelsKey=actor:matcher|bucket:high`, key: shop.keys.read });
    expect(filtered.body.data).toHaveLength(1);
    const ranged = await t.request({ url: `${url()}?from=2026-03-10T11:00:00Z&to=2026-03-10T11:30:00.123Z`, key: shop.keys.read });
    expect(ranged.body.data.map((m: { type: string }) => m.type)).toEqual(['token_usage']);
    const bare = await t.request({ url: `${url()}?from=2026-03-10T11:00:00&to=2026-03-10T11:30:00.123`, key: shop.keys.read });
    expect(bare.body.data.map((m: { type: string }) => m.type)).toEqual(['token_usage']);
  });

  it('rejects each invalid metric by index with its code and stores the valid ones', async () => {
    const batch = [
      { type: 'processing_time', value: 12.5 }, // 0 valid
      { type: 'latency', value: 1 }, // 1
      { type: 'queue_depth', value: -1 }, // 2
      { type: 'queue_depth', value: 1.5 }, // 3
      { type: 'token_usage', value: 2.5 }, // 4
      { type: 'error', value: 0 }, // 5
      { type: 'confidence', value: 1.2 }, // 6
      { type: 'processing_time', value: -0.1 }, // 7
      { type: 'processing_time', value: '5' }, // 8
      { type: 'error', value: 1, recordedAt: '2026-03-10T12:05:00.001Z' }, // 9: 5 min + 1 ms ahead
      { type: 'error', value: 1, recordedAt: '2026-02-07T23:59:59.999Z' }, // 10: before 2026-02-08, the window's start
      { type: 'error', value: 1, labels: { actor: 'a', region: 'eu' } }, // 11
      { type: 'error', value: 1, labels: { actor: 'x'.repeat(129) } }, // 12
      'not an object', // 13
      { type: 'error', value: 1, extra: true }, // 14
      { type: 'error', value: 1, recordedAt: 'yesterday' }, // 15
      { type: 'confidence', value: 1, recordedAt: '2026-03-10T12:05:00Z', labels: { code: 'OK' } }, // 16 valid: exactly 5 min ahead
      { type: 'error', value: 2, recordedAt: '2026-02-08T00:00:00Z' }, // 17 valid: first instant of the window
      { type: 'error', value: 1, recordedAt: '2026-02-30T10:00:00+01:00' }, // 18: no such day (Date would read March 2nd)
    ];
    const res = await post(batch);
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(3);
    expect(res.body.rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([
      [1, 'OPERATIONAL_METRIC_TYPE_UNKNOWN'],
      [2, 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE'],
      [3, 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE'],
      [4, 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE'],
      [5, 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE'],
      [6, 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE'],
      [7, 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE'],
      [8, 'OPERATIONAL_METRIC_INVALID'],
      [9, 'OPERATIONAL_METRIC_TIME_IN_FUTURE'],
      [10, 'OPERATIONAL_METRIC_TIME_TOO_OLD'],
      [11, 'OPERATIONAL_METRIC_LABELS_INVALID'],
      [12, 'OPERATIONAL_METRIC_LABELS_INVALID'],
      [13, 'OPERATIONAL_METRIC_INVALID'],
      [14, 'OPERATIONAL_METRIC_INVALID'],
      [15, 'OPERATIONAL_METRIC_INVALID'],
      [18, 'OPERATIONAL_METRIC_INVALID'],
    ]);
    expect(res.body.rejected[10].message).toMatch(/unknown label "region"/);
    const stored = await t.sql(
      `SELECT count(*)::int AS n FROM operational_metrics WHERE project_id = $1 AND (metric_type IN ('processing_time', 'error') OR labels_key = 'code:OK')`,
      [shop.id],
    );
    expect(stored[0].n).toBe(3);
  });

  it('rejects a JSON number too large to be finite', async () => {
    const res = await t.request({
      method: 'POST',
      url: url(),
      key: shop.keys.ingest,
      payload: '{"metrics":[{"type":"processing_time","value":1e400}]}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(res.body.rejected).toEqual([{ index: 0, code: 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE', message: 'value must be a finite number' }]);
  });

  it('takes counts and durations up to 2^53 − 1 and rejects larger ones', async () => {
    const max = Number.MAX_SAFE_INTEGER; // 9007199254740991
    const res = await post([
      { type: 'token_usage', value: max },
      { type: 'processing_time', value: max },
      { type: 'token_usage', value: max + 1 },
      { type: 'queue_depth', value: 1.7976931348623157e308 },
      { type: 'error', value: 1e300 },
      { type: 'processing_time', value: 1e300 },
    ]);
    expect(res.body.accepted).toBe(2);
    expect(res.body.rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([
      [2, 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE'],
      [3, 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE'],
      [4, 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE'],
      [5, 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE'],
    ]);
  });

  it('pages through rows of one instant whose ids pass from two digits to three, each row once', async () => {
    // ids order as numbers: as text, '99' sorted after '115' and the cursor skipped or repeated rows
    const project = await createProject(t, { name: 'Paging' });
    // the next ids run from 60 below a power of ten to 59 above it
    await t.sql(
      `SELECT setval(pg_get_serial_sequence('operational_metrics', 'id'),
                     (SELECT 10 ^ ceil(log(greatest(max(id), 1) + 61)) - 61 FROM operational_metrics)::bigint)`,
    );
    const at = '2026-03-10T10:00:00Z';
    for (const first of [0, 60]) {
      const batch = Array.from({ length: 60 }, (_, i) => ({ type: 'queue_depth', value: first + i, recordedAt: at }));
      const res = await t.request({
        method: 'POST',
        url: `/v1/projects/${project.id}/operational-metrics`,
        key: project.keys.ingest,
        body: { metrics: batch },
      });
      expect(res.body.accepted).toBe(60);
    }
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: { value: number }[]; nextCursor: string | null } } = await t.request({
        url: `/v1/projects/${project.id}/operational-metrics?limit=7${cursor ? `&cursor=${cursor}` : ''}`,
        key: project.keys.read,
      });
      seen.push(...page.body.data.map((m) => m.value));
      cursor = page.body.nextCursor;
    } while (cursor);
    // one instant: newest first is the last inserted first
    expect(seen).toEqual(Array.from({ length: 120 }, (_, i) => 119 - i));
  });

  it('answers 400 to an empty or oversized batch and to a body without metrics', async () => {
    const oversized = await post(Array.from({ length: 1001 }, () => ({ type: 'error', value: 1 })));
    expect(oversized.status).toBe(400);
    expect(oversized.body.code).toBe('VALIDATION_FAILED');
    expect(oversized.body.errors).toEqual([expect.objectContaining({ field: 'metrics' })]);
    expect((await post([])).status).toBe(400);
    const noMetrics = await t.request({ method: 'POST', url: url(), key: shop.keys.ingest, body: { events: [] } });
    expect(noMetrics.status).toBe(400);
    expect(noMetrics.body.code).toBe('VALIDATION_FAILED');
    const notArray = await post({ type: 'error', value: 1 });
    expect(notArray.status).toBe(400);
    const full = await post(Array.from({ length: 1000 }, () => ({ type: 'error', value: 1 })));
    expect(full.body).toEqual({ accepted: 1000, rejected: [] });
  });

  it('answers 400 to bad query parameters', async () => {
    const forged = (key: unknown[]) => `cursor=${Buffer.from(JSON.stringify(key)).toString('base64url')}`;
    const queries = [
      'type=latency',
      'from=yesterday',
      'limit=0',
      'limit=501',
      'cursor=nonsense',
      'unknown=1',
      forged(['nope', '1']),
      forged(['2026-01-01T00:00:00.000Z', 'x']),
    ];
    for (const query of queries) {
      const res = await t.request({ url: `${url()}?${query}`, key: shop.keys.read });
      expect([query, res.status, res.body.code]).toEqual([query, 400, 'VALIDATION_FAILED']);
    }
    const badDaily = await t.request({ url: `${url()}/daily?to=tomorrow`, key: shop.keys.read });
    expect(badDaily.status).toBe(400);
    // a range that ends before it starts, on both lists (as the other range filters of the API)
    for (const path of ['', '/daily']) {
      const reversed = await t.request({ url: `${url()}${path}?from=2026-05-04T00:00:00Z&to=2026-05-01T00:00:00Z`, key: shop.keys.read });
      expect([path, reversed.status, reversed.body.errors]).toEqual([path, 400, [{ field: 'from', message: 'from must not be after to' }]]);
    }
  });

  it('answers 403 to a key without the scope or of another project, 401 without a key, 404 for no project', async () => {
    expect((await post([{ type: 'error', value: 1 }], shop.keys.read)).status).toBe(403);
    expect((await t.request({ url: url(), key: shop.keys.ingest })).status).toBe(403);
    expect((await t.request({ url: `${url()}/daily`, key: shop.keys.ingest })).status).toBe(403);
    const cross = await post([{ type: 'error', value: 1 }], other.keys.ingest);
    expect(cross.status).toBe(403);
    expect(cross.body.code).toBe('FORBIDDEN');
    expect((await t.request({ url: url(), key: other.keys.read })).status).toBe(403);
    expect((await t.request({ url: url(), key: null })).status).toBe(401);
    const missing = await t.request({ url: '/v1/projects/4b6f3f7e-9d1c-4c1e-8f7e-2a1b3c4d5e6f/operational-metrics' });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('PROJECT_NOT_FOUND');
  });

  it("keeps the service's own metrics behind the admin key: never a project, never readable with a project key", async () => {
    await t.sql(
      `INSERT INTO operational_metrics (project_id, metric_type, value, labels, labels_key, recorded_at)
       VALUES ($1, 'error', 1, '{"actor":"http","code":"HTTP_500"}', 'actor:http|code:HTTP_500', '2026-03-10T10:00:00Z')`,
      [SYSTEM_PROJECT_ID],
    );
    const asAdmin = await t.request({ url: '/v1/operational-metrics?type=error' });
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.data).toEqual([expect.objectContaining({ labelsKey: 'actor:http|code:HTTP_500', value: 1 })]);
    expect((await t.request({ url: '/v1/operational-metrics/daily' })).status).toBe(200);

    for (const key of Object.values(shop.keys)) {
      expect((await t.request({ url: '/v1/operational-metrics', key })).status).toBe(403);
      expect((await t.request({ url: '/v1/operational-metrics/daily', key })).status).toBe(403);
      expect((await t.request({ url: `/v1/projects/${SYSTEM_PROJECT_ID}/operational-metrics`, key })).status).toBe(403);
    }
    const throughProjectPath = await t.request({ url: `/v1/projects/${SYSTEM_PROJECT_ID}/operational-metrics` });
    expect(throughProjectPath.status).toBe(404);
    const projects = await t.request({ url: '/v1/projects' });
    expect(projects.body.data.map((p: { id: string }) => p.id)).not.toContain(SYSTEM_PROJECT_ID);
    const keyForSystem = await t.request({
      method: 'POST',
      url: `/v1/projects/${SYSTEM_PROJECT_ID}/api-keys`,
      body: { name: 'x', scopes: ['read'] },
    });
    expect(keyForSystem.status).toBe(404);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = await t.request({ url: '/docs-json', key: null });
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/projects/{projectId}/operational-metrics',
        '/v1/projects/{projectId}/operational-metrics/daily',
        '/v1/operational-metrics',
        '/v1/operational-metrics/daily',
      ]),
    );
  });
});
