import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { ERROR_CODES } from '../../src/common/errors/error-catalogue.js';
import { completeStep } from '../factories/onboarding.js';
import { createProject } from '../factories/projects.js';
import { createSession } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const BODY_LIMIT = 4096;

/** The operations that read a JSON body, by hand. */
const JSON_BODY_OPERATIONS = [
  'POST /v1/jobs/{jobName}/runs',
  'POST /v1/projects',
  'POST /v1/projects/{projectId}/api-keys',
  'POST /v1/projects/{projectId}/events',
  'POST /v1/projects/{projectId}/funnels',
  'POST /v1/projects/{projectId}/operational-metrics',
  'POST /v1/projects/{projectId}/users/{userId}/onboarding/steps/{step}/complete',
];

const COMPLETE_STEP = '/v1/projects/{projectId}/users/{userId}/onboarding/steps/{step}/complete';
const RECOMPUTE = '/v1/projects/{projectId}/sessions/{sessionId}/metrics/recompute';

/** How each value of `x-required-scope` reads at the end of a summary, by hand. */
const ACCESS_WORDS: Record<string, string> = {
  none: '(no key)',
  'admin-key': '(admin key)',
  any: '(any key of the project)',
  ingest: '(ingest scope)',
  read: '(read scope)',
  admin: '(admin scope)',
};

/** Who gets past the guard for each `x-required-scope`: no key, a project key of each scope, the admin key. */
const CALLERS = ['no key', 'ingest key', 'read key', 'admin-scope key', 'admin key'] as const;
const LET_THROUGH: Record<string, string[]> = {
  none: ['passes', 'passes', 'passes', 'passes', 'passes'],
  'admin-key': ['401', '403', '403', '403', 'passes'],
  any: ['401', 'passes', 'passes', 'passes', 'passes'],
  ingest: ['401', 'passes', '403', 'passes', 'passes'],
  read: ['401', '403', 'passes', 'passes', 'passes'],
  admin: ['401', '403', '403', 'passes', 'passes'],
};

/** Every `$ref` in the document, so each can be checked to resolve. */
function refs(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refs(n, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') found.push(value);
      else refs(value, found);
    }
  }
  return found;
}

/**
 * Checks a value against a schema of the document as a strict client would: Ajv (which knows
 * OpenAPI 3.0's `nullable`) with formats, every `$ref` resolved within the document.
 * Answers the errors, [] when the value is valid.
 */
function documentValidator(doc: any): (schema: object, value: unknown) => string[] {
  const ajv = new Ajv({ allErrors: true, strict: true });
  // `example` is an OpenAPI annotation; `components` only holds the schemas the refs point into.
  ajv.addVocabulary(['example', 'components']);
  addFormats.default(ajv);
  ajv.addSchema({ $id: 'openapi.json', components: doc.components });
  return (schema, value) => {
    const validate = ajv.compile({ $ref: `openapi.json${(schema as { $ref: string }).$ref}` });
    return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  };
}

/** Every schema object of the document that has `nullable`. */
function nullableSchemas(node: unknown, at = '#', found: { at: string; schema: any }[] = []) {
  if (Array.isArray(node)) node.forEach((n, i) => nullableSchemas(n, `${at}/${i}`, found));
  else if (node && typeof node === 'object') {
    if ('nullable' in node) found.push({ at, schema: node });
    for (const [key, value] of Object.entries(node)) nullableSchemas(value, `${at}/${key}`, found);
  }
  return found;
}

interface Operation {
  path: string;
  method: (typeof METHODS)[number];
  op: any;
  where: string;
}

function operationsOf(doc: any): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, item]: [string, any]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method], where: `${method.toUpperCase()} ${path}` })),
  );
}

describe('OpenAPI document', () => {
  let t: TestApp;
  let doc: any;
  beforeAll(async () => {
    t = await startTestApp({ env: { BODY_LIMIT_BYTES: String(BODY_LIMIT) } });
    doc = (await t.request({ url: '/docs-json', key: null })).body;
  });
  afterAll(() => t.close());

  it('is an OpenAPI 3 document with the bearer scheme declared', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('Trailmark API');
    // keys are API keys, not JWTs (the builder's default format)
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'API key' });
  });

  it('documents every operation with a summary, a success response and its error problems', () => {
    const operations = operationsOf(doc);
    expect(operations.length).toBe(42);
    for (const { path, op, where } of operations) {
      expect([where, typeof op.summary]).toEqual([where, 'string']);
      const statuses = Object.keys(op.responses);
      expect([where, statuses.some((s) => /^2\d\d$/.test(s))]).toEqual([where, true]);
      if (path.startsWith('/v1/')) {
        expect([where, op.security]).toEqual([where, [{ bearer: [] }]]);
        expect([where, statuses.includes('401') && statuses.includes('403')]).toEqual([where, true]);
      }
      // any operation may fail unexpectedly, or find the database out of reach (a problem to retry)
      expect([where, op.responses['500']?.description]).toEqual([where, expect.stringContaining('`INTERNAL_ERROR`')]);
      expect([where, op.responses['503']?.description]).toEqual([where, expect.stringContaining('`SERVICE_UNAVAILABLE`')]);
    }
  });

  it('resolves every schema reference', () => {
    for (const ref of refs(doc)) {
      const target = ref
        .replace(/^#\//, '')
        .split('/')
        .reduce((node: any, part) => node?.[part], doc);
      expect([ref, target !== undefined]).toEqual([ref, true]);
    }
  });

  it('shows the error catalogue: every code in the problem schema and the description', () => {
    const codeSchema = doc.components.schemas.ErrorCode;
    expect(JSON.stringify(doc.components.schemas.ProblemDto.properties.code)).toContain('#/components/schemas/ErrorCode');
    expect(codeSchema.enum.sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) expect(doc.info.description).toContain(`\`${code}\``);
  });

  it('documents every 4xx and 5xx answer as application/problem+json with the problem schema, as the API serves them', async () => {
    let problems = 0;
    for (const { where, op } of operationsOf(doc)) {
      for (const [status, response] of Object.entries<any>(op.responses)) {
        if (Number(status) < 400) continue;
        problems++;
        expect([where, status, response.content]).toEqual([
          where,
          status,
          { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDto' } } },
        ]);
      }
    }
    expect(problems).toBeGreaterThan(100);
    const served = await t.request({ url: '/v1/projects', key: null });
    expect(served.status).toBe(401);
    expect(served.headers['content-type']).toMatch(/^application\/problem\+json;/);
    expect(doc.paths['/health/ready'].get.responses['503'].content).toHaveProperty(['application/problem+json']);
  });

  it('documents 400 MALFORMED_JSON, 413 and 415 on every operation that reads a JSON body, and each answers them', async () => {
    const withBody = operationsOf(doc).filter(({ op }) => op.requestBody);
    expect(withBody.map(({ where }) => where).sort()).toEqual(JSON_BODY_OPERATIONS);
    for (const { path, method, op, where } of withBody) {
      const documented = (status: string) => [where, status, op.responses[status]?.description ?? ''];
      expect(documented('400')).toEqual([where, '400', expect.stringContaining('`MALFORMED_JSON`')]);
      expect(documented('413')).toEqual([where, '413', expect.stringContaining('`PAYLOAD_TOO_LARGE`')]);
      expect(documented('415')).toEqual([where, '415', expect.stringContaining('`UNSUPPORTED_MEDIA_TYPE`')]);

      // Fastify reads the body before any guard or handler runs, so made-up ids and no key do.
      const url = path.replace(/\{step\}/, '1').replace(/\{(\w+)\}/g, 'some-$1');
      const send = (payload: string, contentType: string) =>
        t.request({ method: method.toUpperCase() as 'POST', url, key: null, payload, headers: { 'content-type': contentType } });
      const answers = [
        await send('{"name": ', 'application/json'),
        await send(JSON.stringify({ padding: 'x'.repeat(BODY_LIMIT) }), 'application/json'),
        await send('name=x', 'text/plain'),
      ];
      expect(answers.map((a) => [where, a.status, a.body.code, a.headers['content-type']])).toEqual([
        [where, 400, 'MALFORMED_JSON', 'application/problem+json; charset=utf-8'],
        [where, 413, 'PAYLOAD_TOO_LARGE', 'application/problem+json; charset=utf-8'],
        [where, 415, 'UNSUPPORTED_MEDIA_TYPE', 'application/problem+json; charset=utf-8'],
      ]);
    }
  });

  it('states on every operation the access it needs, the same way, and the guard lets through exactly those callers', async () => {
    const project = await createProject(t);
    const keys = [null, project.keys.ingest, project.keys.read, project.keys.admin, t.adminKey];
    const tally: Record<string, number> = {};
    for (const { path, method, op, where } of operationsOf(doc)) {
      const scope = op['x-required-scope'];
      tally[scope] = (tally[scope] ?? 0) + 1;
      expect([where, scope, op.summary.endsWith(` ${ACCESS_WORDS[scope]}`)]).toEqual([where, expect.any(String), true]);
      const statuses = Object.keys(op.responses);
      if (scope === 'none') {
        expect([where, op.security, statuses.includes('401')]).toEqual([where, [], false]);
      } else {
        expect([where, op.security, statuses.includes('401') && statuses.includes('403')]).toEqual([where, [{ bearer: [] }], true]);
      }

      const url = path
        .replace('{projectId}', project.id)
        .replace('{step}', '1')
        .replace(/\{(\w+)\}/g, 'some-$1');
      const outcomes: string[] = [];
      for (const key of keys) {
        const res = await t.request({ method: method.toUpperCase() as 'GET', url, key });
        outcomes.push(res.status === 401 || res.status === 403 ? String(res.status) : 'passes');
      }
      expect([where, Object.fromEntries(CALLERS.map((c, i) => [c, outcomes[i]]))]).toEqual([
        where,
        Object.fromEntries(CALLERS.map((c, i) => [c, LET_THROUGH[scope]?.[i]])),
      ]);
    }
    expect(tally).toEqual({ none: 3, 'admin-key': 8, any: 1, ingest: 3, read: 21, admin: 6 });
  });

  it('declares every {param} of a path as a required path parameter of each of its operations', () => {
    for (const { path, op, where } of operationsOf(doc)) {
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const declared = (op.parameters ?? []).filter((p: any) => p.in === 'path');
      expect([where, declared.map((p: any) => p.name).sort()]).toEqual([where, templated]);
      for (const p of declared) expect([where, p.name, p.required]).toEqual([where, p.name, true]);
    }
  });

  it('documents nullable values so that a strict OpenAPI 3.0 validator accepts null: `nullable` only beside a `type`, never beside a reference', () => {
    const found = nullableSchemas(doc.components);
    expect(found.length).toBeGreaterThan(40);
    for (const { at, schema } of found) {
      expect([at, typeof schema.type, ['$ref', 'allOf', 'oneOf', 'anyOf'].filter((k) => k in schema)]).toEqual([at, 'string', []]);
    }
  });

  it('validates real answers with null and non-null object references: GET /v1/jobs (lastRun), onboarding progress (kpiEvent)', async () => {
    const validate = documentValidator(doc);
    const ok = (path: string) => doc.paths[path].get.responses['200'].content['application/json'].schema;

    expect((await t.request({ method: 'POST', url: '/v1/jobs/job-runs-prune/runs?wait=true' })).status).toBe(200);
    const jobs = await t.request({ url: '/v1/jobs' });
    expect(jobs.status).toBe(200);
    expect(new Set(jobs.body.data.map((j: any) => (j.lastRun === null ? 'null' : typeof j.lastRun)))).toEqual(new Set(['null', 'object']));
    expect(validate(ok('/v1/jobs'), jobs.body)).toEqual([]);

    const project = await createProject(t);
    expect((await completeStep(t, project, 'ada', 1)).status).toBe(200);
    const progress = await t.request({ url: `/v1/projects/${project.id}/users/ada/onboarding`, key: project.keys.read });
    expect(progress.status).toBe(200);
    expect(progress.body.steps.map((s: any) => (s.kpiEvent === null ? 'null' : typeof s.kpiEvent))).toEqual([
      'object',
      'null',
      'null',
      'null',
      'null',
    ]);
    expect(validate(ok('/v1/projects/{projectId}/users/{userId}/onboarding'), progress.body)).toEqual([]);

    // The validator is strict both ways: a wrong object or a missing field is refused.
    const broken = { ...progress.body, steps: [{ ...progress.body.steps[0], kpiEvent: { status: 42 } }] };
    expect(validate(ok('/v1/projects/{projectId}/users/{userId}/onboarding'), broken)).not.toEqual([]);
  });

  it('documents the extension members problems carry, and real problems validate against a closed ProblemDto', async () => {
    const extensions = ['checks', 'missingSteps', 'problems', 'sessionId', 'sessionStatus', 'steps'];
    const problem = doc.components.schemas.ProblemDto;
    for (const name of extensions) expect([name, problem.properties[name]?.description]).toEqual([name, expect.any(String)]);
    expect(extensions.filter((e) => problem.required.includes(e))).toEqual([]);

    // Closed, so that any member a real problem has and the document lacks fails the check.
    const closed = structuredClone(doc);
    closed.components.schemas.ProblemDto.additionalProperties = false;
    const validate = documentValidator(closed);
    const project = await createProject(t);
    const recompute = (sessionId: string) =>
      t.request({ method: 'POST', url: `/v1/projects/${project.id}/sessions/${sessionId}/metrics/recompute`, key: project.keys.admin });
    const start = new Date('2026-03-02T10:00:00Z');
    const events = [
      { type: 'session_start', at: 0 },
      { type: 'draft_created', at: 20 },
      { type: 'session_end', at: 120 },
    ];
    const active = await createSession(t, project.id, { events, status: 'active' });
    const inconsistent = await createSession(t, project.id, { events, base: start, row: { started_at: new Date(start.getTime() + 30_000) } });
    const answers = [
      { res: await completeStep(t, project, 'grace', 2), member: 'missingSteps' },
      { res: await completeStep(t, project, 'grace', 99), member: 'steps' },
      { res: await recompute('nobody'), member: 'sessionId' },
      { res: await recompute(active), member: 'sessionStatus' },
      { res: await recompute(inconsistent), member: 'problems' },
    ];
    expect(answers.map(({ res }) => res.body.code)).toEqual([
      'ONBOARDING_STEP_NOT_ELIGIBLE',
      'ONBOARDING_STEP_NOT_FOUND',
      'SESSION_NOT_FOUND',
      'SESSION_NOT_COMPLETED',
      'SESSION_DATA_INVALID',
    ]);
    for (const { res, member } of answers) {
      expect([res.body.code, member in res.body]).toEqual([res.body.code, true]);
      const schema =
        closed.paths[res.body.code.startsWith('ONBOARDING') ? COMPLETE_STEP : RECOMPUTE].post.responses[res.status].content[
          'application/problem+json'
        ].schema;
      expect([res.body.code, validate(schema, res.body)]).toEqual([res.body.code, []]);
    }
  });

  it('documents the Prometheus /metrics route as public text/plain, as it is served', async () => {
    const op = doc.paths['/metrics']?.get;
    expect(op).toMatchObject({ 'x-required-scope': 'none', responses: { 200: { content: { 'text/plain': { schema: { type: 'string' } } } } } });
    expect(op.security).toEqual([]);
    expect(op.responses['200'].description).toContain('Prometheus');
    const res = await t.request({ url: '/metrics', key: null });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toMatch(/^# HELP /m);
  });

  it('serves the Swagger UI at /docs', async () => {
    const res = await t.request({ url: '/docs', key: null });
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger-ui');
  });
});
