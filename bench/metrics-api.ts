/**
 * bench:metrics-api — the Metrics API under load over loopback, with the server in a child process
 * (server-process.ts): a 90-day daily trend and a 30-day breakdown at a steady rate, against
 * a floor measured in the same run at the same rate (an authenticated GET of the project).
 * Data: N sessions over 90 days with metrics, loaded straight into the database, then one full
 * `metrics-compute` run through the jobs API.
 *
 *   npm run bench:metrics-api -- [N]    (default 100000; BENCH_DATABASE_URL = a server for a fresh database, else embedded)
 *   BENCH_RATE=500 BENCH_SECONDS=10 BENCH_CONNECTIONS=10  (the defaults)
 */
import 'reflect-metadata';
import pg from 'pg';
import { callApi, latencyRow, runLoad } from './load.js';
import { startServerProcess } from './server-process.js';
import { BENCH_ADMIN_KEY } from './support.js';

const N = Number(process.argv[2] ?? 100_000);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const END = Math.floor(Date.now() / 86_400_000) * 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

const LOAD = `
INSERT INTO sessions (project_id, session_id, status, started_at, ended_at, completed_at, duration_seconds, page_count, event_count,
                      entry_page, exit_page, journey_path, bounced, converted, aggregated_at)
SELECT $1, 's' || n, 'completed', t, t, t, (n % 600)::float8, n % 4, n % 4 + 1,
       CASE WHEN n % 4 > 0 THEN '/p/' || (n % 50) END, CASE WHEN n % 4 > 0 THEN '/q/' || (n % 40) END, '{}', n % 4 = 1, n % 9 = 0, now()
FROM generate_series(1, $2::int) n, LATERAL (SELECT $3::timestamptz + ((n::bigint * 7919) % (90 * 86400)) * interval '1 second' AS t) x`;

async function main(): Promise<void> {
  const server = await startServerProcess({ NODE_ENV: 'production', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' });
  const base = server.base;
  const db = new pg.Client({ connectionString: server.databaseUrl });
  try {
    await db.connect();
    const project = await callApi(base, 'POST', '/v1/projects', BENCH_ADMIN_KEY, { name: 'bench', timezone: 'Europe/Berlin' });
    const { key } = await callApi(base, 'POST', `/v1/projects/${project.id}/api-keys`, BENCH_ADMIN_KEY, { name: 'bench', scopes: ['read'] });
    await db.query(LOAD, [project.id, N, new Date(END - 90 * 86_400_000)]);
    await db.query(`ANALYZE sessions`);
    const t = performance.now();
    const computed = await callApi<{ counts: Record<string, number> }>(base, 'POST', '/v1/jobs/metrics-compute/runs?wait=true', BENCH_ADMIN_KEY, {
      full: true,
    });
    console.log(`loaded ${N} sessions; full compute ${((performance.now() - t) / 1000).toFixed(1)} s`, computed.counts);

    const headers = { authorization: `Bearer ${key}` };
    const common = { connections: CONNECTIONS, overallRate: RATE, duration: SECONDS, headers };
    const trendUrl = `${base}/v1/projects/${project.id}/metrics/bounce_rate/trend?grain=day&from=${iso(END - 90 * 86_400_000)}&to=${iso(END)}`;
    const breakdownUrl = `${base}/v1/projects/${project.id}/metrics/bounce_rate/breakdown?dimension=entry_page&from=${iso(END - 30 * 86_400_000)}&to=${iso(END)}&limit=100`;
    // each endpoint is warmed up the same way before it is measured (2 s at the same rate): its
    // route's first requests (code paths compiled, statements planned, pages read) are not its steady state
    const measure = async (url: string) => {
      await runLoad({ ...common, url, duration: 2 });
      return runLoad({ ...common, url });
    };
    const floor = await measure(`${base}/v1/projects/${project.id}`);
    const trend = await measure(trendUrl);
    const breakdown = await measure(breakdownUrl);
    console.log(`\nbench:metrics-api — ${RATE} req/s for ${SECONDS} s over ${CONNECTIONS} connections, loopback, server in a child process`);
    console.table([
      latencyRow('floor: GET project (auth + 1 read)', floor),
      latencyRow('90-day daily trend', trend),
      latencyRow('30-day breakdown (entry_page)', breakdown),
    ]);
    for (const [label, r] of [
      ['trend', trend],
      ['breakdown', breakdown],
    ] as const) {
      console.log(
        `${label}: p99 ${r.latency.p99} ms (${(r.latency.p99 / Math.max(floor.latency.p99, 1)).toFixed(2)}x floor); target p99 < 20 ms at 500 req/s: ${r.latency.p99 < 20 && RATE >= 500 && r.non2xx === 0 ? 'met' : 'not met'}`,
      );
    }
  } finally {
    await db.end().catch(() => undefined);
    await server.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
