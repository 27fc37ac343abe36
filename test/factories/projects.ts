import type { TestApp } from '../support/test-app.js';

export interface ProjectFixture {
  id: string;
  name: string;
  timezone: string;
  sessionTimeoutMinutes: number;
  keys: { ingest: string; read: string; admin: string };
}

/** A project with one key per scope, made through the public API. */
export async function createProject(
  t: TestApp,
  input: { name?: string; timezone?: string; sessionTimeoutMinutes?: number } = {},
): Promise<ProjectFixture> {
  const created = await t.request({ method: 'POST', url: '/v1/projects', body: { name: input.name ?? 'Test shop', ...input } });
  if (created.status !== 201) throw new Error(`project not created: ${created.status} ${created.text}`);
  const project = created.body;
  const keys = {} as ProjectFixture['keys'];
  for (const scope of ['ingest', 'read', 'admin'] as const) {
    const key = await t.request({
      method: 'POST',
      url: `/v1/projects/${project.id}/api-keys`,
      body: { name: `${scope} key`, scopes: [scope] },
    });
    if (key.status !== 201) throw new Error(`key not created: ${key.status} ${key.text}`);
    keys[scope] = key.body.key;
  }
  return { ...project, keys };
}
