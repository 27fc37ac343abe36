/**
 * bench:ingest — starts the app on loopback and drives POST /events with autocannon, 100 events
 * per request. The floor: the same autocannon load against GET /health/live of the same server
 * (HTTP + auth-free routing, no database). `BENCH_SECONDS=10 BENCH_CONNECTIONS=20 npm run bench:ingest`.
 */
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { BENCH_ADMIN_KEY, startBenchApp } from './support.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);
const BATCH = 100;

function batchBody(): string {
  const session = randomUUID();
  const now = Date.now();
  const paths = ['/', '/category/shoes', '/product/7', '/cart', '/checkout'];
  return JSON.stringify({
    events: Array.from({ length: BATCH }, (_, i) => ({
      eventId: randomUUID(),
      sessionId: `${session}-${i % 10}`,
      type: 'pageview',
      url: `https://shop.example${paths[i % paths.length]}?ref=bench`,
      occurredAt: new Date(now - (BATCH - i) * 1000).toISOString(),
      properties: { i },
    })),
  });
}

function run(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon(options, (err, result) => (err ? reject(err) : resolve(result))));
}

async function main(): Promise<void> {
  const bench = await startBenchApp();
  await bench.app.listen({ port: 0, host: '127.0.0.1' });
  const address = bench.app.getHttpServer().address() as { port: number };
  const base = `http://127.0.0.1:${address.port}`;
  try {
    const project = await (await fetch(`${base}/v1/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench' }),
    })).json() as { id: string };
    const key = await (await fetch(`${base}/v1/projects/${project.id}/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', scopes: ['ingest'] }),
    })).json() as { key: string };

    const bodies = Array.from({ length: 200 }, batchBody);
    let next = 0;
    const floor = await run({ url: `${base}/health/live`, connections, duration: Math.max(3, Math.round(seconds / 3)) });
    const result = await run({
      url: `${base}/v1/projects/${project.id}/events`,
      method: 'POST',
      connections,
      duration: seconds,
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
      requests: [{ setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) }],
    });
    const okRequests = result['2xx'];
    console.log(
      JSON.stringify({
        seconds,
        connections,
        batch: BATCH,
        requests: result.requests.total,
        non2xx: result.non2xx,
        eventsPerSecond: Math.round((okRequests * BATCH) / seconds),
        latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
        floor: { route: 'GET /health/live', requestsPerSecond: Math.round(floor.requests.average), p99Ms: floor.latency.p99 },
        ratioRequestsPerSecondToFloor: Number((result.requests.average / floor.requests.average).toFixed(3)),
      }),
    );
  } finally {
    await bench.close();
  }
}

void main();
