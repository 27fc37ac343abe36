import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('projects, API keys and access', () => {
  let t: TestApp;
  let shop: ProjectFixture;
  let other: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp();
    shop = await createProject(t, { name: 'Shop', timezone: 'Europe/Berlin', sessionTimeoutMinutes: 45 });
    other = await createProject(t, { name: 'Other' });
  });
  afterAll(() => t.close());

  it('creates a project with defaults and returns it to the admin and to its own keys', async () => {
    const created = await t.request({ method: 'POST', url: '/v1/projects', body: { name: 'Plain' } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'Plain',
      timezone: 'UTC',
      sessionTimeoutMinutes: 30,
      createdAt: expect.any(String),
    });
    const asAdmin = await t.request({ url: `/v1/projects/${shop.id}` });
    expect(asAdmin.body).toMatchObject({ name: 'Shop', timezone: 'Europe/Berlin', sessionTimeoutMinutes: 45 });
    const asRead = await t.request({ url: `/v1/projects/${shop.id}`, key: shop.keys.read });
    expect(asRead.status).toBe(200);
    const asIngest = await t.request({ url: `/v1/projects/${shop.id}`, key: shop.keys.ingest });
    expect(asIngest.status).toBe(200);
  });

  it('stores a time zone as the database spells it when only the case differs, and a current name as given', async () => {
    const lower = await t.request({ method: 'POST', url: '/v1/projects', body: { name: 'Lower', timezone: 'europe/berlin' } });
    expect(lower.status).toBe(201);
    expect(lower.body.timezone).toBe('Europe/Berlin');
    // ICU calls it Asia/Calcutta; the client's current name is kept
    const kolkata = await t.request({ method: 'POST', url: '/v1/projects', body: { name: 'Kolkata', timezone: 'Asia/Kolkata' } });
    expect(kolkata.body.timezone).toBe('Asia/Kolkata');
  });

  it('lists projects oldest first, page by page', async () => {
    const first = await t.request({ url: '/v1/projects?limit=1' });
    expect(first.status).toBe(200);
    expect(first.body.data.map((p: { name: string }) => p.name)).toEqual(['Shop']);
    const second = await t.request({ url: `/v1/projects?limit=1&cursor=${first.body.nextCursor}` });
    expect(second.body.data.map((p: { name: string }) => p.name)).toEqual(['Other']);
  });

  it('answers 401 without a key, with a malformed key and with an unknown key', async () => {
    for (const key of [null, 'nonsense', 'tm_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
      const res = await t.request({ url: `/v1/projects/${shop.id}`, key });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('UNAUTHENTICATED');
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('answers 403 to a key of another project and to a key lacking the scope', async () => {
    const cross = await t.request({ url: `/v1/projects/${shop.id}`, key: other.keys.read });
    expect(cross.status).toBe(403);
    expect(cross.body.code).toBe('FORBIDDEN');
    const readKeyMakingKeys = await t.request({
      method: 'POST',
      url: `/v1/projects/${shop.id}/api-keys`,
      key: shop.keys.read,
      body: { name: 'x', scopes: ['read'] },
    });
    expect(readKeyMakingKeys.status).toBe(403);
    const projectKeyListingProjects = await t.request({ url: '/v1/projects', key: shop.keys.admin });
    expect(projectKeyListingProjects.status).toBe(403);
    const projectKeyCreatingProject = await t.request({ method: 'POST', url: '/v1/projects', key: shop.keys.admin, body: { name: 'x' } });
    expect(projectKeyCreatingProject.status).toBe(403);
    const otherAdminOnShop = await t.request({ url: `/v1/projects/${shop.id}/api-keys`, key: other.keys.admin });
    expect(otherAdminOnShop.status).toBe(403);
  });

  it('lets a project admin key manage its own keys, never showing keys or hashes in lists', async () => {
    const created = await t.request({
      method: 'POST',
      url: `/v1/projects/${shop.id}/api-keys`,
      key: shop.keys.admin,
      body: { name: 'dashboard', scopes: ['read'] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'dashboard',
      scopes: ['read'],
      key: expect.stringMatching(/^tm_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/),
      createdAt: expect.any(String),
    });
    const listed = await t.request({ url: `/v1/projects/${shop.id}/api-keys`, key: shop.keys.admin });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(4);
    // the secret is everything after the prefix; base64url may itself contain '_'
    const secret = created.body.key.slice('tm_'.length + 16 + 1);
    expect(secret).toHaveLength(43);
    expect(listed.text).not.toContain(created.body.key);
    expect(listed.text).not.toContain(secret);
    for (const key of listed.body.data) expect(Object.keys(key).sort()).toEqual(['createdAt', 'id', 'name', 'revokedAt', 'scopes']);
    expect(listed.body.nextCursor).toBeNull();
    // pages of 3 and 1: together the whole list, in its order (oldest first), no key twice
    const first = await t.request({ url: `/v1/projects/${shop.id}/api-keys?limit=3`, key: shop.keys.admin });
    expect(first.body.data).toHaveLength(3);
    const second = await t.request({ url: `/v1/projects/${shop.id}/api-keys?limit=3&cursor=${first.body.nextCursor}`, key: shop.keys.admin });
    expect(second.body.nextCursor).toBeNull();
    const ids = (body: { data: { id: string }[] }) => body.data.map((k) => k.id);
    expect([...ids(first.body), ...ids(second.body)]).toEqual(ids(listed.body));
    const stored = await t.sql(`SELECT secret_hash FROM api_keys WHERE id = $1`, [created.body.id]);
    expect(stored[0].secret_hash).toHaveLength(32);
    expect(stored[0].secret_hash.toString('utf8')).not.toContain(secret);
  });

  it('stops a revoked key at once', async () => {
    const created = await t.request({ method: 'POST', url: `/v1/projects/${shop.id}/api-keys`, body: { name: 'tmp', scopes: ['read'] } });
    const key = created.body.key;
    expect((await t.request({ url: `/v1/projects/${shop.id}`, key })).status).toBe(200);
    const revoked = await t.request({ method: 'DELETE', url: `/v1/projects/${shop.id}/api-keys/${created.body.id}` });
    expect(revoked.status).toBe(204);
    const after = await t.request({ url: `/v1/projects/${shop.id}`, key });
    expect(after.status).toBe(401);
    const again = await t.request({ method: 'DELETE', url: `/v1/projects/${shop.id}/api-keys/00000000-0000-4000-8000-000000000000` });
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('API_KEY_NOT_FOUND');
  });

  it('answers 404 PROJECT_NOT_FOUND to the admin key for an unknown project', async () => {
    const res = await t.request({ url: '/v1/projects/6b3c2f4e-1111-4222-8333-944455556666' });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('PROJECT_NOT_FOUND');
    const notUuid = await t.request({ url: '/v1/projects/not-a-uuid' });
    expect(notUuid.status).toBe(404);
  });

  it('rejects bad key scopes and unknown fields with named field errors', async () => {
    const res = await t.request({
      method: 'POST',
      url: `/v1/projects/${shop.id}/api-keys`,
      body: { name: 'x', scopes: ['read', 'write'], extra: true },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['extra', 'scopes']);
  });
});
