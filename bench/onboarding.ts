/**
 * Latency of POST …/users/{userId}/onboarding/steps/{step}/complete at a steady request rate over
 * loopback: every request completes step 1 for a new user (a completion, an outbox row and a KPI
 * event, in one transaction). The floor, measured in the same run at the same rate, is an
 * authenticated GET of the project (API key check plus one read). The app runs in a child process
 * (production config, silent logs) so the load generator does not share its event loop.
 *
 *   npm run bench:onboarding              embedded PostgreSQL under .data-bench/
 *   BENCH_DATABASE_URL=postgres://… npm run bench:onboarding   a fresh database on that server
 *   BENCH_RATE=500 BENCH_SECONDS=10 BENCH_CONNECTIONS=10  (the defaults)
 */
import { loadavg } from 'node:os';
import type autocannon from 'autocannon';
import pg from 'pg';
import { callApi, latencyRow, runLoad } from './load.js';
import { startServerProcess } from './server-process.js';
import { BENCH_ADMIN_KEY } from './support.js';

const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

async function main(): Promise<void> {
  const server = await startServerProcess({ NODE_ENV: 'production', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent' });
  const base = server.base;
  try {
    const project = await callApi(base, 'POST', '/v1/projects', BENCH_ADMIN_KEY, { name: 'bench' });
    const { key } = await callApi(base, 'POST', `/v1/projects/${project.id}/api-keys`, BENCH_ADMIN_KEY, { name: 'bench', scopes: ['ingest'] });
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const common = { connections: CONNECTIONS, overallRate: RATE, duration: SECONDS };

    // Warm-up: JIT, connection pool, plan caches.
    await runLoad({ url: `${base}/v1/projects/${project.id}`, headers, ...common, duration: 2 });
    const floor = await runLoad({ url: `${base}/v1/projects/${project.id}`, headers, ...common });

    let user = 0;
    const complete = await runLoad({
      url: base,
      ...common,
      requests: [
        {
          method: 'POST',
          headers,
          body: JSON.stringify({ source: 'bench', metadata: { plan: 'trial' } }),
          setupRequest: (req: autocannon.Request) => ({
            ...req,
            path: `/v1/projects/${project.id}/users/bench-${user++}/onboarding/steps/1/complete`,
          }),
        },
      ],
    });
    const client = new pg.Client({ connectionString: server.databaseUrl });
    await client.connect();
    const count = (await client.query<{ count: number }>(`SELECT count(*)::int AS count FROM kpi_events`)).rows[0].count;
    await client.end();

    const rows = [latencyRow('floor: GET project (auth + 1 read)', floor), latencyRow('POST …/onboarding/steps/1/complete', complete)];
    console.log(
      `\nbench:onboarding — ${RATE} req/s for ${SECONDS} s over ${CONNECTIONS} connections, loopback, ${process.env.BENCH_DATABASE_URL ? 'external' : 'embedded'} PostgreSQL; load average ${loadavg()[0].toFixed(1)}`,
    );
    console.table(rows);
    console.log(
      `p50 ratio to floor: ${(complete.latency.p50 / floor.latency.p50).toFixed(2)}x; p99 ratio to floor: ${(complete.latency.p99 / floor.latency.p99).toFixed(2)}x`,
    );
    console.log(`KPI events recorded: ${count} (one per successful completion: ${complete['2xx']})`);
    console.log(`target p99 < 50 ms at 500 req/s: ${complete.latency.p99 < 50 && RATE >= 500 ? 'met' : 'not met'}`);
  } finally {
    await server.close();
  }
}

void main();
