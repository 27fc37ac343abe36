/**
 * bench:ingest — starts the app (production config, logs silent, jobs off) as a child process on
 * loopback and drives POST /events from this process with autocannon, 100 events per request.
 * The floor: the same autocannon load against GET /health/live of the same server (HTTP +
 * auth-free routing, no database). `BENCH_SECONDS=10 BENCH_CONNECTIONS=20 npm run bench:ingest`;
 * `BENCH_CPU_PROF=1` writes a CPU profile of the server into ./profiles.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { startServerProcess } from './server-process.js';
import { BENCH_ADMIN_KEY } from './support.js';
import { callApi, runLoad } from './load.js';

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

async function main(): Promise<void> {
  const server = await startServerProcess(
    { NODE_ENV: 'production', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent' },
    process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=profiles'] : [],
  );
  const base = server.base;
  try {
    const project = await callApi(base, 'POST', '/v1/projects', BENCH_ADMIN_KEY, { name: 'bench' });
    const key = await callApi(base, 'POST', `/v1/projects/${project.id}/api-keys`, BENCH_ADMIN_KEY, { name: 'bench', scopes: ['ingest'] });

    const bodies = Array.from({ length: 200 }, batchBody);
    let next = 0;
    // Warm-up (JIT, pools), not counted.
    await runLoad({ url: `${base}/health/live`, connections, duration: 1 });
    const floor = await runLoad({ url: `${base}/health/live`, connections, duration: Math.max(3, Math.round(seconds / 3)) });
    const result = await runLoad({
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
        loadAverage: loadavg().map((n) => Number(n.toFixed(2))),
        ratioRequestsPerSecondToFloor: Number((result.requests.average / floor.requests.average).toFixed(3)),
      }),
    );
  } finally {
    await server.close();
  }
}

void main();
