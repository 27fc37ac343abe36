import { createProject } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { adminQuery, serverUrl } from '../support/test-database.js';

const PROBLEM_KEYS = ['code', 'detail', 'instance', 'requestId', 'status', 'title', 'type'];

function expectProblem(res: { status: number; headers: Record<string, unknown>; body: any; text: string }, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, type: expect.stringMatching(/^https:\/\//), title: expect.any(String) });
  expect(res.body.requestId).toBe(res.headers['x-request-id']);
  expect(res.text).not.toMatch(/\bat .*\.(js|ts):\d+/); // no stack trace
}

describe('HTTP conventions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { BODY_LIMIT_BYTES: '2048' } });
  });
  afterAll(() => t.close());

  it('answers malformed JSON with 400 MALFORMED_JSON', async () => {
    const res = await t.request({ method: 'POST', url: '/v1/projects', payload: '{"name": "x",', headers: { 'content-type': 'application/json' } });
    expectProblem(res, 400, 'MALFORMED_JSON');
    expect(Object.keys(res.body).sort()).toEqual(PROBLEM_KEYS);
  });

  it('treats an empty application/json body as no body: a body-less POST runs, a route needing one names the field', async () => {
    const json = { 'content-type': 'application/json' };
    const run = await t.request({ method: 'POST', url: '/v1/jobs/session-aggregation/runs?wait=true', payload: '', headers: json });
    expect(run.status).toBe(200);
    expect(run.body.status).toBe('succeeded');
    const project = await t.request({ method: 'POST', url: '/v1/projects', payload: '', headers: json });
    expectProblem(project, 400, 'VALIDATION_FAILED');
    expect(project.body.errors.map((e: { field: string }) => e.field)).toContain('name');
    // A body of only whitespace is still not JSON.
    expectProblem(await t.request({ method: 'POST', url: '/v1/projects', payload: ' ', headers: json }), 400, 'MALFORMED_JSON');
  });

  it('answers a body over the limit with 413 PAYLOAD_TOO_LARGE and stores nothing', async () => {
    const res = await t.request({ method: 'POST', url: '/v1/projects', body: { name: 'x'.repeat(3000) } });
    expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
    expect(await t.sql(`SELECT count(*)::int AS n FROM projects WHERE name LIKE 'xxx%'`)).toEqual([{ n: 0 }]);
  });

  it('answers unknown routes with 404 ROUTE_NOT_FOUND as problem JSON, not HTML', async () => {
    expectProblem(await t.request({ url: '/v1/nothing-here' }), 404, 'ROUTE_NOT_FOUND');
    expectProblem(await t.request({ method: 'DELETE', url: '/health/live' }), 404, 'ROUTE_NOT_FOUND');
  });

  it('rejects query and body fields of operations that take none, naming each, after authentication', async () => {
    const shop = await createProject(t, { name: 'undeclared-input' });
    const read = (url: string) => t.request({ url: `/v1/projects/${shop.id}${url}`, key: shop.keys.read });
    const steps = await read('/onboarding/steps?x=1&y=2');
    expectProblem(steps, 400, 'VALIDATION_FAILED');
    expect(steps.body.errors).toEqual([
      { field: 'x', message: 'unknown field x' },
      { field: 'y', message: 'unknown field y' },
    ]);
    expectProblem(await read('/users/u1/onboarding?x=1'), 400, 'VALIDATION_FAILED');
    expectProblem(await read('/sessions/s1/metrics?foo=1'), 400, 'VALIDATION_FAILED');
    const recompute = await t.request({ method: 'POST', url: `/v1/projects/${shop.id}/sessions/s1/metrics/recompute`, body: { foo: 1 } });
    expectProblem(recompute, 400, 'VALIDATION_FAILED');
    expect(recompute.body.errors).toEqual([{ field: 'foo', message: 'unknown field foo' }]);
    const array = await t.request({ method: 'POST', url: `/v1/projects/${shop.id}/sessions/s1/metrics/recompute`, body: [1] });
    expect(array.body.errors).toEqual([{ field: 'body', message: 'this operation takes no body' }]);
    // without them the same operations answer as before; an empty body is no body
    expect((await read('/onboarding/steps')).status).toBe(200);
    const none = await t.request({ method: 'POST', url: `/v1/projects/${shop.id}/sessions/s1/metrics/recompute`, body: {} });
    expectProblem(none, 404, 'SESSION_NOT_FOUND');
    // authentication comes first: no key is a 401, whatever the query says
    expectProblem(await t.request({ url: `/v1/projects/${shop.id}/onboarding/steps?x=1`, key: null }), 401, 'UNAUTHENTICATED');
  });

  it('answers a body nested too deep, or texts PostgreSQL cannot store, with 400 naming each, and stores nothing', async () => {
    const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
    const tooDeep = await t.request({
      method: 'POST',
      url: '/v1/projects',
      payload: `{"name":"deep","q":${deep(100)}}`,
      headers: { 'content-type': 'application/json' },
    });
    expectProblem(tooDeep, 400, 'VALIDATION_FAILED');
    expect(tooDeep.body.errors[0].message).toBe('the body may be nested at most 64 levels deep');
    const shop = await createProject(t, { name: 'texts' });
    const events = await t.request({
      method: 'POST',
      url: `/v1/projects/${shop.id}/events`,
      key: shop.keys.ingest,
      payload: `{"events":[{"sessionId":"s","type":"signal","occurredAt":"2025-06-15T11:00:00Z","properties":{"a":${deep(100)}}}]}`,
      headers: { 'content-type': 'application/json' },
    });
    expectProblem(events, 400, 'VALIDATION_FAILED');

    const nul = await t.request({ method: 'POST', url: '/v1/projects', body: { name: 'a\u0000b' } });
    expectProblem(nul, 400, 'VALIDATION_FAILED');
    expect(nul.body.errors).toEqual([{ field: 'name', message: 'name must not contain NUL characters or lone surrogates' }]);
    const surrogate = await t.request({ method: 'POST', url: `/v1/projects/${shop.id}/api-keys`, body: { name: 'a\ud800b', scopes: ['read'] } });
    expect(surrogate.body.errors.map((e: { field: string }) => e.field)).toEqual(['name']);
    const funnel = await t.request({
      method: 'POST',
      url: `/v1/projects/${shop.id}/funnels`,
      body: { name: 'f', steps: [{ name: 'a' }, { name: 'b\u0000' }] },
    });
    expect(funnel.body.errors.map((e: { field: string }) => e.field)).toEqual(['steps[1].name']);
    const step = await t.request({
      method: 'POST',
      url: `/v1/projects/${shop.id}/users/u1/onboarding/steps/1/complete`,
      key: shop.keys.ingest,
      body: { source: 'w\u0000', metadata: { a: { '\u0000': 1 } } },
    });
    expect(step.body.errors.map((e: { field: string }) => e.field)).toEqual(['source', 'metadata.a.\u0000']);
    expect(await t.sql(`SELECT count(*)::int AS n FROM projects WHERE name LIKE 'a%b'`)).toEqual([{ n: 0 }]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM onboarding_completions WHERE project_id = $1`, [shop.id])).toEqual([{ n: 0 }]);
    // ingestion still turns such an event away on its own and keeps the batch's others
    const batch = await t.request({
      method: 'POST',
      url: `/v1/projects/${shop.id}/events`,
      key: shop.keys.ingest,
      body: {
        events: [
          { sessionId: 's\u0000', type: 'signal', occurredAt: '2025-06-15T11:00:00Z' },
          { sessionId: 's', type: 'signal', occurredAt: '2025-06-15T11:00:00Z' },
        ],
      },
    });
    expect(batch.status).toBe(200);
    expect(batch.body).toMatchObject({ accepted: 1, rejected: [{ index: 0, code: 'EVENT_INVALID' }] });
  });

  it('takes a session timeout only as a JSON number', async () => {
    for (const sessionTimeoutMinutes of [true, '30', '1e1']) {
      const res = await t.request({ method: 'POST', url: '/v1/projects', body: { name: 'timeout', sessionTimeoutMinutes } });
      expect([sessionTimeoutMinutes, res.status, [...new Set(res.body.errors?.map((e: { field: string }) => e.field))]]).toEqual([
        sessionTimeoutMinutes,
        400,
        ['sessionTimeoutMinutes'],
      ]);
    }
    expect((await t.request({ method: 'POST', url: '/v1/projects', body: { name: 'timeout', sessionTimeoutMinutes: 45 } })).status).toBe(201);
  });

  it("answers the router's own errors as problem details with the request id", async () => {
    const badUrl = await t.request({ url: '/v1/jobs/%ZZ/runs', headers: { 'x-request-id': 'bad-url-1' } });
    expectProblem(badUrl, 400, 'VALIDATION_FAILED');
    expect(badUrl.body.requestId).toBe('bad-url-1');
    const longParam = await t.request({ url: `/v1/projects/${'p'.repeat(2100)}` });
    expectProblem(longParam, 400, 'VALIDATION_FAILED');
  });

  it('answers a non-JSON body with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/v1/projects',
      payload: 'name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('names every bad field of a validation error', async () => {
    const res = await t.request({ method: 'POST', url: '/v1/projects', body: { name: '', sessionTimeoutMinutes: 0, colour: 'red' } });
    expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['colour', 'name', 'sessionTimeoutMinutes']);
  });

  it('answers a forged cursor on every list with 400 naming cursor, never a failed cast', async () => {
    const shop = await createProject(t);
    const forged = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');
    const cursors = [
      forged(['nope', 'nope']),
      forged(['2026-01-01T00:00:00.000Z', 'not-a-uuid']),
      forged(['2026-02-30T00:00:00.000Z', 'x']),
      forged([1, 2]),
    ];
    const lists = [
      { url: '/v1/projects' },
      { url: '/v1/jobs/session-aggregation/runs' },
      { url: `/v1/projects/${shop.id}/sessions`, key: shop.keys.read },
      { url: `/v1/projects/${shop.id}/pipeline-runs`, key: shop.keys.read },
    ];
    for (const list of lists) {
      for (const cursor of cursors) {
        const res = await t.request({ url: `${list.url}?cursor=${cursor}`, key: list.key });
        // a session id may be any text, so only the time part can make the sessions cursor forged
        if (list.url.endsWith('/sessions') && cursor === cursors[1]) {
          expect(res.status).toBe(200);
          continue;
        }
        expectProblem(res, 400, 'VALIDATION_FAILED');
        expect(res.body.errors).toEqual([{ field: 'cursor', message: expect.any(String) }]);
      }
    }
  });

  it('keeps a client request id and echoes it; makes one when absent', async () => {
    const given = await t.request({ url: '/health/live', headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers['x-request-id']).toBe('abc-123');
    const made = await t.request({ url: '/health/live' });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const problem = await t.request({ url: '/v1/projects', key: null, headers: { 'x-request-id': 'trace-42' } });
    expect(problem.body.requestId).toBe('trace-42');
  });

  it('answers an unexpected error with a bare 500 carrying only the request id', async () => {
    // Break the table under the app: a real failure, not a mock.
    await t.sql('ALTER TABLE projects RENAME TO projects_away');
    try {
      const res = await t.request({ url: '/v1/projects' });
      expectProblem(res, 500, 'INTERNAL_ERROR');
      expect(res.body.detail).toBe('An unexpected error occurred.');
      expect(res.text).not.toMatch(/projects_away|relation|does not exist/);
    } finally {
      await t.sql('ALTER TABLE projects_away RENAME TO projects');
    }
  });
});

describe('health and metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('reports liveness and database readiness without a key', async () => {
    expect((await t.request({ url: '/health/live', key: null })).body).toEqual({ status: 'ok' });
    const ready = await t.request({ url: '/health/ready', key: null });
    expect(ready.status).toBe(200);
    expect(ready.body.info.database.status).toBe('up');
  });

  it('serves Prometheus metrics with process figures and request durations by route and status', async () => {
    await t.request({ url: '/v1/projects' });
    await t.request({ url: '/v1/projects', key: null });
    const res = await t.request({ url: '/metrics', key: null });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('trailmark_process_cpu_user_seconds_total');
    expect(res.text).toMatch(/trailmark_http_request_duration_seconds_count\{method="GET",route="\/v1\/projects",status="200"\} 1/);
    expect(res.text).toMatch(/trailmark_http_request_duration_seconds_count\{method="GET",route="\/v1\/projects",status="401"\} 1/);
  });
});

describe('readiness when the database does not answer', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await adminQuery(`ALTER DATABASE "${t.database.name}" WITH ALLOW_CONNECTIONS true`);
    await t.close();
  });

  it('answers 503 SERVICE_UNAVAILABLE naming the check that is down, not where the database is', async () => {
    // New connections are refused and the pool's open ones are cut: the ping fails as it would on a lost server.
    await adminQuery(`ALTER DATABASE "${t.database.name}" WITH ALLOW_CONNECTIONS false`);
    await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${t.database.name}'`);
    const res = await t.request({ url: '/health/ready', key: null });
    expectProblem(res, 503, 'SERVICE_UNAVAILABLE');
    expect(res.body.checks).toEqual({ database: { status: 'down' } });
    const server = new URL(serverUrl());
    expect(res.text).not.toContain(server.hostname);
    expect(res.text).not.toContain(server.port || '5432');
    expect(res.text).not.toContain(t.database.name);
  });
});
