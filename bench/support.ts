/**
 * Benchmarks run the real app on a scratch database: BENCH_DATABASE_URL (a server where a fresh
 * database is created and dropped, or kept with BENCH_KEEP_DATABASE=1), else an embedded PostgreSQL
 * under .data-bench/.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../src/app.factory.js';
import { loadConfig } from '../src/common/config/config.js';
import { resolveDatabase } from '../src/common/database/resolve-database.js';

export const BENCH_ADMIN_KEY = 'bench-admin-key-0123456789abcdef';

export interface BenchApp {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
}

export async function startBenchApp(env: Record<string, string> = {}): Promise<BenchApp> {
  const server = process.env.BENCH_DATABASE_URL;
  let databaseUrl: string;
  let cleanup: () => Promise<void>;
  if (server) {
    const name = `trailmark_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(server);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    cleanup = async () => {
      // BENCH_KEEP_DATABASE=1 leaves the loaded database in place, to EXPLAIN what the bench timed
      if (process.env.BENCH_KEEP_DATABASE) return console.log(`kept database ${name}`);
      const client = new pg.Client({ connectionString: server });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    };
  } else {
    const config = loadConfig({ DATA_DIR: '.data-bench', EMBEDDED_POSTGRES_PORT: '54339' });
    const db = await resolveDatabase(config, () => undefined);
    databaseUrl = db.url;
    cleanup = () => db.stop();
  }
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    ADMIN_API_KEY: BENCH_ADMIN_KEY,
    DATABASE_URL: databaseUrl,
    JOBS_ENABLED: 'false',
    ...env,
  });
  const app = await createApp({ config, databaseUrl, adminApiKey: BENCH_ADMIN_KEY });
  // as the service starts: among others, the partitions of this month and the next are created,
  // so events loaded straight into the database land where ingested ones would, not in DEFAULT
  await app.init();
  return {
    app,
    url: databaseUrl,
    close: async () => {
      await app.close();
      await cleanup();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
