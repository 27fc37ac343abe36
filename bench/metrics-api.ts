/**
 * bench:metrics-api — the Metrics API under load over loopback, with the server in a child process
 * (`node dist/src/main.js`): a 90-day daily trend and a 30-day breakdown at a steady rate, against
 * a floor measured in the same run at the same rate (an authenticated GET of the project).
 * Data: N sessions over 90 days with metrics, loaded straight into the database, then one full
 * `metrics-compute` run through the jobs API.
 *
 *   npm run bench:metrics-api -- [N]    (default 100000; BENCH_DATABASE_URL or DATABASE_URL = a server for a fresh database)
 *   BENCH_RATE=500 BENCH_SECONDS=10 BENCH_CONNECTIONS=10  (the defaults)
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import pg from 'pg';
import { ensureDatabase } from '../src/common/database/embedded-postgres.js';

const N = Number(process.argv[2] ?? 100_000);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ADMIN_KEY = randomBytes(24).toString('hex');
const PORT = 47000 + Math.floor(Math.random() * 2000);
const END = Math.floor(Date.now() / 86_400_000) * 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

const LOAD = `
INSERT INTO sessions (project_id, session_id, status, started_at, ended_at, completed_at, duration_seconds, page_count, event_count,
                      entry_page, exit_page, journey_path, bounced, converted, aggregated_at)
SELECT $1, 's' || n, 'completed', t, t, t, (n % 600)::float8, n % 4, n % 4 + 1,
       CASE WHEN n % 4 > 0 THEN '/p/' || (n % 50) END, CASE WHEN n % 4 > 0 THEN '/q/' || (n % 40) END, '{}', n % 4 = 1, n % 9 = 0, now()
FROM generate_series(1, $2::int) n, LATERAL (SELECT $3::timestamptz + ((n::bigint * 7919) % (90 * 86400)) * interval '1 second' AS t) x`;

async function call(base: string, method: string, url: string, key: string, body?: unknown): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(base + url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function run(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon(options, (error, result) => (error ? reject(error) : resolve(result))));
}

function row(label: string, r: autocannon.Result) {
  return { label, requests: r.requests.total, ok: r['2xx'], non2xx: r.non2xx, errors: r.errors, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, rps: r.requests.average };
}

async function main(): Promise<void> {
  const server = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!server) throw new Error('set BENCH_DATABASE_URL (a PostgreSQL server where a scratch database is created)');
  const name = `trailmark_bench_${randomBytes(4).toString('hex')}`;
  const url = await ensureDatabase(server, name);
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: { ...process.env, DATABASE_URL: url, PORT: String(PORT), HOST: '127.0.0.1', ADMIN_API_KEY: ADMIN_KEY, JOBS_ENABLED: 'false', LOG_LEVEL: 'warn', NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${PORT}`;
  const db = new pg.Client({ connectionString: url });
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/health/ready`)).ok) break;
      } catch {
        // not listening yet
      }
      if (i > 300) throw new Error('server did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await db.connect();
    const project = await call(base, 'POST', '/v1/projects', ADMIN_KEY, { name: 'bench', timezone: 'Europe/Berlin' });
    const { key } = await call(base, 'POST', `/v1/projects/${project.id}/api-keys`, ADMIN_KEY, { name: 'bench', scopes: ['read'] });
    await db.query(LOAD, [project.id, N, new Date(END - 90 * 86_400_000)]);
    await db.query(`ANALYZE sessions`);
    const t = performance.now();
    const computed = await call(base, 'POST', '/v1/jobs/metrics-compute/runs?wait=true', ADMIN_KEY, { full: true });
    console.log(`loaded ${N} sessions; full compute ${((performance.now() - t) / 1000).toFixed(1)} s`, computed.counts);

    const headers = { authorization: `Bearer ${key}` };
    const common = { connections: CONNECTIONS, overallRate: RATE, duration: SECONDS, headers };
    const trendUrl = `${base}/v1/projects/${project.id}/metrics/bounce_rate/trend?grain=day&from=${iso(END - 90 * 86_400_000)}&to=${iso(END)}`;
    const breakdownUrl = `${base}/v1/projects/${project.id}/metrics/bounce_rate/breakdown?dimension=entry_page&from=${iso(END - 30 * 86_400_000)}&to=${iso(END)}&limit=100`;
    await run({ ...common, url: `${base}/v1/projects/${project.id}`, duration: 2 });
    const floor = await run({ ...common, url: `${base}/v1/projects/${project.id}` });
    const trend = await run({ ...common, url: trendUrl });
    const breakdown = await run({ ...common, url: breakdownUrl });
    console.log(`\nbench:metrics-api — ${RATE} req/s for ${SECONDS} s over ${CONNECTIONS} connections, loopback, server in a child process`);
    console.table([row('floor: GET project (auth + 1 read)', floor), row('90-day daily trend', trend), row('30-day breakdown (entry_page)', breakdown)]);
    for (const [label, r] of [['trend', trend], ['breakdown', breakdown]] as const) {
      console.log(`${label}: p99 ${r.latency.p99} ms (${(r.latency.p99 / Math.max(floor.latency.p99, 1)).toFixed(2)}x floor); target p99 < 20 ms at 500 req/s: ${r.latency.p99 < 20 && RATE >= 500 && r.non2xx === 0 ? 'met' : 'not met'}`);
    }
  } finally {
    await db.end().catch(() => undefined);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
