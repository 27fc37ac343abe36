import { Writable } from 'node:stream';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** Spec §5: logs are JSON lines (pino) with a request id on every line of a request; secrets never logged. */
describe('request logging', () => {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  let t: TestApp;
  let shop: ProjectFixture;

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'info' }, logDestination: destination });
    shop = await createProject(t);
  });
  afterAll(() => t.close());

  const requestLines = (id: string) => lines.filter((l) => (l.req as { id?: string } | undefined)?.id === id);

  it('logs every request once it is answered, with its id, method, route and status', async () => {
    const res = await t.request({ url: `/v1/projects/${shop.id}`, key: shop.keys.read, headers: { 'x-request-id': 'log-check-1' } });
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('log-check-1');
    const [line] = requestLines('log-check-1');
    expect(line).toMatchObject({ msg: 'request completed', level: 30, res: { statusCode: 200 } });
    expect(line.req).toMatchObject({ id: 'log-check-1', method: 'GET', url: `/v1/projects/${shop.id}` });
  });

  it('logs a client error at warn and a POST too, with its generated id when the client sent none', async () => {
    const res = await t.request({ method: 'POST', url: `/v1/projects/${shop.id}/events`, key: shop.keys.ingest, body: { foo: 1 } });
    expect(res.status).toBe(400);
    const id = res.headers['x-request-id'] as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestLines(id)).toEqual([expect.objectContaining({ level: 40, res: expect.objectContaining({ statusCode: 400 }) })]);
  });

  it('starts without a warning about the route pattern of the request logger', () => {
    expect(lines.filter((l) => /route path|path-to-regexp/i.test(String(l.msg)))).toEqual([]);
  });

  it('never writes the API key: the authorization header is redacted', async () => {
    await t.request({ url: `/v1/projects/${shop.id}`, key: shop.keys.read, headers: { 'x-request-id': 'log-check-2' } });
    const [line] = requestLines('log-check-2');
    expect((line.req as { headers: Record<string, string> }).headers.authorization).toBe('[redacted]');
    expect(JSON.stringify(lines)).not.toContain(shop.keys.read);
  });
});
