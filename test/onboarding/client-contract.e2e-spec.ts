import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { OPENAPI_FILE, RULES_COPY, RULES_COPY_HEADER, RULES_SOURCE, serialiseDocument } from '../../src/openapi/write-client-contract.js';
import { validateCompleteStepRequest } from '../../client/src/onboarding-rules.js';
import { completeStep, recorded } from '../factories/onboarding.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const root = process.cwd();
const STALE = 'stale: run `npm run client:generate` and commit client/';

describe('frontend contract (client/)', () => {
  let t: TestApp;
  let project: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp();
    project = await createProject(t);
  });
  afterAll(() => t.close());

  it("keeps client/openapi.json equal to the server's OpenAPI document", async () => {
    const live = await t.request({ url: '/docs-json', key: null });
    const stored = await readFile(path.join(root, OPENAPI_FILE), 'utf8');
    expect({ message: STALE, document: stored }).toEqual({ message: STALE, document: serialiseDocument(live.body) });
  });

  it('keeps client/src/schema.d.ts equal to what openapi-typescript makes of the live document', async () => {
    const live = await t.request({ url: '/docs-json', key: null });
    const dir = await mkdtemp(path.join(tmpdir(), 'trailmark-openapi-'));
    try {
      await writeFile(path.join(dir, 'openapi.json'), serialiseDocument(live.body));
      const cli = path.join(root, 'node_modules/openapi-typescript/bin/cli.js');
      await promisify(execFile)(process.execPath, [cli, path.join(dir, 'openapi.json'), '-o', path.join(dir, 'schema.d.ts')]);
      const fresh = await readFile(path.join(dir, 'schema.d.ts'), 'utf8');
      const stored = await readFile(path.join(root, 'client/src/schema.d.ts'), 'utf8');
      expect({ message: STALE, types: stored }).toEqual({ message: STALE, types: fresh });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps the client's onboarding rules an exact copy of the server's", async () => {
    const source = await readFile(path.join(root, RULES_SOURCE), 'utf8');
    const copy = await readFile(path.join(root, RULES_COPY), 'utf8');
    expect({ message: STALE, copy }).toEqual({ message: STALE, copy: RULES_COPY_HEADER + source });
  });

  // Each case is sent to the server after the client's check: the client must refuse exactly
  // what the server answers with 400, naming the same fields.
  const cases: { name: string; userId: string; step: number | string; body: Record<string, unknown>; idempotencyKey?: string }[] = [
    { name: 'a plain completion', userId: 'u-ok', step: 1, body: {} },
    { name: 'source and metadata', userId: 'u-meta', step: 1, body: { source: 'web', metadata: { a: [1, 2] } } },
    { name: 'a 64-character source', userId: 'u-64', step: 1, body: { source: 's'.repeat(64) } },
    { name: 'a 65-character source', userId: 'u', step: 1, body: { source: 's'.repeat(65) } },
    { name: 'an empty source', userId: 'u', step: 1, body: { source: '' } },
    { name: 'a null source', userId: 'u', step: 1, body: { source: null } },
    { name: 'metadata of exactly 4096 bytes', userId: 'u-4k', step: 1, body: { metadata: { b: 'x'.repeat(4096 - 8) } } },
    { name: 'metadata of 4097 bytes', userId: 'u', step: 1, body: { metadata: { b: 'x'.repeat(4096 - 7) } } },
    { name: 'metadata of multibyte text over 4 KiB', userId: 'u', step: 1, body: { metadata: { b: 'é'.repeat(2045) } } },
    { name: 'metadata that is a string', userId: 'u', step: 1, body: { metadata: 'x' } },
    { name: 'an unknown field', userId: 'u', step: 1, body: { sauce: 'x' } },
    { name: 'step 0', userId: 'u', step: 0, body: {} },
    { name: 'step 2147483648 (beyond an integer)', userId: 'u', step: 2147483648, body: {} },
    { name: 'step 1.5', userId: 'u', step: '1.5', body: {} },
    { name: 'a user id with a surrounding space', userId: ' u', step: 1, body: {} },
    { name: 'a 128-character user id', userId: 'u'.repeat(128), step: 1, body: {} },
    { name: 'a 129-character user id', userId: 'u'.repeat(129), step: 1, body: {} },
    { name: 'a good Idempotency-Key', userId: 'u-key', step: 1, body: {}, idempotencyKey: 'key-1' },
    // several parts bad at once: one 400 names every bad field of the path, the header and the body
    { name: 'step 0 and a bad body', userId: ' u', step: 0, body: { sauce: 1, source: '' } },
    { name: 'step 0 and a bad Idempotency-Key', userId: 'u', step: 0, body: {}, idempotencyKey: 'a b' },
    { name: 'a bad Idempotency-Key and a bad body', userId: 'u', step: 1, body: { metadata: 5 }, idempotencyKey: 'a b' },
    { name: 'an Idempotency-Key with a non-ASCII character', userId: 'u', step: 1, body: {}, idempotencyKey: 'kéy' },
  ];

  it.each(cases)('agrees with the server on $name', async ({ userId, step, body, idempotencyKey }) => {
    const violations = validateCompleteStepRequest({ userId, step, body, idempotencyKey });
    const before = await recorded(t, project.id);
    const res = await completeStep(t, project, userId, step, { body, idempotencyKey: idempotencyKey === 'kéy' ? undefined : idempotencyKey });
    if (idempotencyKey === 'kéy') {
      // HTTP headers cannot carry it at all; the client must refuse it before sending.
      expect(violations.map((v) => v.field)).toEqual(['Idempotency-Key']);
      return;
    }
    if (violations.length) {
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(violations.map((v) => v.field).sort());
      expect(await recorded(t, project.id)).toEqual(before);
    } else {
      expect(res.status).toBe(200);
    }
  });
});
