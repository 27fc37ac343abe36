import type { Writable } from 'node:stream';
/**
 * Boots the real application (real PostgreSQL, real queue) on a fresh database for a test file,
 * and talks to it through Fastify's inject.
 */
import 'reflect-metadata';
import type { ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DataSource, QueryRunner } from 'typeorm';
import { getDataSourceToken } from '@nestjs/typeorm';
import { AppModule } from '../../src/app.module.js';
import { configureApp, createAdapter } from '../../src/app.factory.js';
import { Clock, FixedClock } from '../../src/common/clock/clock.js';
import { loadConfig, type AppConfig } from '../../src/common/config/config.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface TestAppOptions {
  /** Environment variables on top of the test defaults (JOBS_ENABLED=false, LOG_LEVEL=silent). */
  env?: Record<string, string>;
  /** Run on this database instead of a fresh one (e.g. a second instance on the same data). */
  database?: TestDatabase;
  clock?: FixedClock;
  /** Extra modules, e.g. one that defines a test queue or job. */
  imports?: NonNullable<ModuleMetadata['imports']>;
  /** Where the app's JSON log lines go (with env LOG_LEVEL, as the tests log nothing by default). */
  logDestination?: Writable;
}

export interface InjectOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  key?: string | null;
  body?: unknown;
  payload?: string;
  headers?: Record<string, string>;
}

export interface TestResponse<T = any> {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: T;
  text: string;
}

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  database: TestDatabase;
  dataSource: DataSource;
  clock: FixedClock | undefined;
  adminKey: string;
  request<T = any>(options: InjectOptions): Promise<TestResponse<T>>;
  /** Runs SQL directly on the test database. */
  sql<T = any>(text: string, params?: unknown[]): Promise<T[]>;
  /**
   * Runs `work` in a transaction of its own on the app's pool, rolled back afterwards whatever
   * happens: to hold locks while the app works, or to write what no one else should see.
   */
  inRolledBackTransaction<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T>;
  get<T>(type: abstract new (...args: never[]) => T): T;
  close(options?: { keepDatabase?: boolean }): Promise<void>;
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    DATABASE_URL: database.url,
    JOBS_ENABLED: 'false',
    DATABASE_POOL_SIZE: '5',
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...options.env,
  });
  let builder = Test.createTestingModule({
    imports: [
      AppModule.forRoot({ config, databaseUrl: database.url, adminApiKey: config.adminApiKey!, logDestination: options.logDestination }),
      ...(options.imports ?? []),
    ],
  });
  if (options.clock) builder = builder.overrideProvider(Clock).useValue(options.clock);
  const moduleRef = await builder.compile();
  const app = configureApp(moduleRef.createNestApplication<NestFastifyApplication>(createAdapter(config), { bufferLogs: false, bodyParser: false }));
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const dataSource = app.get<DataSource>(getDataSourceToken());

  const request = async <T>(req: InjectOptions): Promise<TestResponse<T>> => {
    const key = req.key === undefined ? TEST_ADMIN_KEY : req.key;
    const headers: Record<string, string> = { ...(req.headers ?? {}) };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let payload: string | undefined = req.payload;
    if (req.body !== undefined) {
      payload = JSON.stringify(req.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await app.inject({ method: req.method ?? 'GET', url: req.url, headers, payload });
    let body: unknown = response.body;
    try {
      body = response.body ? JSON.parse(response.body) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.statusCode, headers: response.headers, body: body as T, text: response.body };
  };

  return {
    app,
    config,
    database,
    dataSource,
    clock: options.clock,
    adminKey: TEST_ADMIN_KEY,
    request,
    sql: (text, params = []) => dataSource.query(text, params),
    inRolledBackTransaction: async (work) => {
      const runner = dataSource.createQueryRunner();
      await runner.startTransaction();
      try {
        return await work(runner);
      } finally {
        await runner.rollbackTransaction();
        await runner.release();
      }
    },
    get: (type) => app.get(type),
    close: async ({ keepDatabase = false } = {}) => {
      await app.close();
      if (!keepDatabase && !options.database) await database.drop();
    },
  };
}
