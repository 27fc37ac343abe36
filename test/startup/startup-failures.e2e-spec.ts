/**
 * A start that cannot succeed stops with one JSON line naming the variable to fix (README,
 * "Configuration"). These run the start-up steps of main.ts on real files, ports and servers.
 */
import { jest } from '@jest/globals';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Logger as NestPinoLogger, type PinoLogger } from 'nestjs-pino';
import pg from 'pg';
import { pino } from 'pino';
import { createApp } from '../../src/app.factory.js';
import { resolveAdminApiKey } from '../../src/auth/admin-api-key.js';
import { loadConfig } from '../../src/common/config/config.js';
import { checkDatabase } from '../../src/common/database/check-database.js';
import { resolveDatabase } from '../../src/common/database/resolve-database.js';
import { StartupError, logStartupFailure } from '../../src/common/errors/startup-error.js';
import { createTestDatabase } from '../support/test-database.js';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'trailmark-startup-'));
  await chmod(scratch, 0o755); // the embedded server runs as the unprivileged postgres user when we are root
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function failure(promise: Promise<unknown>): Promise<StartupError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StartupError);
  return error as StartupError;
}

/** A port nothing listens on: taken from the system, then given back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function capture(): { stream: Writable; lines: () => string[] } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, lines: () => text.split('\n').filter((line) => line !== '') };
}

describe('the embedded PostgreSQL', () => {
  it('stops on an EMBEDDED_POSTGRES_PORT another program holds, naming EMBEDDED_POSTGRES_PORT', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    try {
      const config = loadConfig({ DATA_DIR: path.join(scratch, 'port-in-use'), EMBEDDED_POSTGRES_PORT: String(port) });
      const error = await failure(resolveDatabase(config, () => undefined));
      expect(error.variable).toBe('EMBEDDED_POSTGRES_PORT');
      expect(error.message).toContain(`EMBEDDED_POSTGRES_PORT=${port} is in use`);
      expect(String((error.cause as Error).message)).toMatch(/Address already in use/);
    } finally {
      holder.close();
    }
  });

  it('stops on a DATA_DIR that is a file, or lies under one, naming DATA_DIR', async () => {
    const file = path.join(scratch, 'a-file');
    await writeFile(file, 'not a directory');
    for (const dataDir of [file, path.join(file, 'data')]) {
      const config = loadConfig({ DATA_DIR: dataDir, EMBEDDED_POSTGRES_PORT: String(await closedPort()) });
      const error = await failure(resolveDatabase(config, () => undefined));
      expect(error.variable).toBe('DATA_DIR');
      expect(error.message).toBe(`DATA_DIR=${dataDir} is not a writable directory: the embedded PostgreSQL keeps its data there`);
    }
  });
});

describe('the generated admin key', () => {
  it('stops on a DATA_DIR it cannot write the key into, naming DATA_DIR and ADMIN_API_KEY', async () => {
    const file = path.join(scratch, 'key-file');
    await writeFile(file, 'not a directory');
    const error = await failure(resolveAdminApiKey(loadConfig({ DATA_DIR: file })));
    expect(error.variable).toBe('DATA_DIR');
    expect(error.message).toBe(
      `DATA_DIR=${file} is not a writable directory: the generated admin key is kept in ${file}/admin-api-key (or set ADMIN_API_KEY)`,
    );
  });
});

describe('the database check before the app starts', () => {
  it('stops on a DATABASE_URL that does not answer, naming DATABASE_URL without its password', async () => {
    const url = `postgres://trailmark:s3cret-pass@127.0.0.1:${await closedPort()}/trailmark`;
    const retries: number[] = [];
    const config = loadConfig({ DATABASE_URL: url });
    const error = await failure(checkDatabase(url, config, { attempts: 2, retryDelayMs: 10, onRetry: (attempt) => retries.push(attempt) }));
    expect(retries).toEqual([1]);
    expect(error.variable).toBe('DATABASE_URL');
    expect(error.message).toBe(`Cannot connect to PostgreSQL at DATABASE_URL=${url.replace('s3cret-pass', '***')}`);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('stops with MIGRATIONS_RUN=false on a database without the schema, naming MIGRATIONS_RUN', async () => {
    const database = await createTestDatabase({ empty: true });
    try {
      const error = await failure(checkDatabase(database.url, loadConfig({ DATABASE_URL: database.url, MIGRATIONS_RUN: 'false' })));
      expect(error.variable).toBe('MIGRATIONS_RUN');
      expect(error.message).toMatch(
        /^MIGRATIONS_RUN=false but the database schema is missing \(\d+ of \d+ migrations not applied, first Foundation\d+\)/,
      );
      expect(error.message).toContain('npm run migration:run');
      // With MIGRATIONS_RUN=true the start applies them: nothing to stop for.
      await expect(checkDatabase(database.url, loadConfig({ DATABASE_URL: database.url }))).resolves.toBeUndefined();
    } finally {
      await database.drop();
    }
  });

  it('passes a migrated database with MIGRATIONS_RUN=false', async () => {
    const database = await createTestDatabase();
    try {
      await expect(checkDatabase(database.url, loadConfig({ DATABASE_URL: database.url, MIGRATIONS_RUN: 'false' }))).resolves.toBeUndefined();
    } finally {
      await database.drop();
    }
  });
});

describe('the failure line', () => {
  it('is one JSON line with the variable, the message and the cause, and no stack', () => {
    const out = capture();
    const log = pino({ base: { context: 'bootstrap' } }, out.stream);
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5499'), { code: 'ECONNREFUSED' });
    logStartupFailure(log, new StartupError('DATABASE_URL', 'Cannot connect to PostgreSQL at DATABASE_URL=postgres://u:***@h:5499/d', { cause }));
    expect(out.lines()).toHaveLength(1);
    expect(JSON.parse(out.lines()[0])).toEqual({
      level: 60,
      time: expect.any(Number),
      context: 'bootstrap',
      variable: 'DATABASE_URL',
      cause: 'connect ECONNREFUSED 127.0.0.1:5499',
      msg: 'Cannot connect to PostgreSQL at DATABASE_URL=postgres://u:***@h:5499/d',
    });
  });

  it('names the variable of a configuration error too', () => {
    const out = capture();
    let error: unknown;
    try {
      loadConfig({ PORT: 'abc' });
    } catch (e) {
      error = e;
    }
    logStartupFailure(pino({}, out.stream), error);
    expect(JSON.parse(out.lines()[0])).toMatchObject({
      level: 60,
      variable: 'PORT',
      msg: 'Invalid configuration: PORT must be a whole number from 0 to 65535 (got "abc")',
    });
  });

  /** Builds the app as main.ts does, with Nest's messages into a JSON capture; the console must stay untouched. */
  async function failedBuild(databaseUrl: string): Promise<{ error: unknown; lines: any[] }> {
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      ADMIN_API_KEY: 'test-admin-key-0123456789abcdef',
      JOBS_ENABLED: 'false',
    });
    const out = capture();
    const console = [jest.spyOn(process.stdout, 'write'), jest.spyOn(process.stderr, 'write')];
    let error: unknown;
    try {
      const nestLogger = new NestPinoLogger(pino({}, out.stream) as unknown as PinoLogger, {});
      const app = await createApp({ config, databaseUrl, adminApiKey: config.adminApiKey! }, nestLogger).catch((e: unknown) => {
        error = e;
      });
      if (app) await app.close();
      for (const spy of console) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of console) spy.mockRestore();
    }
    return { error, lines: out.lines().map((line) => JSON.parse(line)) };
  }

  it("keeps Nest's own messages of an app that fails to build in JSON, not the console logger's coloured text", async () => {
    const { error, lines } = await failedBuild(`postgres://postgres@127.0.0.1:${await closedPort()}/trailmark`);
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 50,
        context: 'TypeOrmModule',
        err: expect.objectContaining({ message: expect.stringMatching(/^Unable to connect to the database/) }),
      }),
    );
  });

  it("logs a failed migration as JSON, not TypeORM's console text", async () => {
    const database = await createTestDatabase({ empty: true });
    try {
      // A table the first migration creates, already there: the migration fails.
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      await client.query('CREATE TABLE projects (id int)');
      await client.end();
      const { error, lines } = await failedBuild(database.url);
      expect(error).toMatchObject({ message: 'relation "projects" already exists' });
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: 50,
          context: 'TypeORM',
          msg: expect.stringMatching(/^Migration "Foundation\d+" failed, error: relation "projects" already exists$/),
        }),
      );
    } finally {
      await database.drop();
    }
  });
});
