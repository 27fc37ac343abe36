/**
 * The bench server: the real app on a scratch database (see support.ts), run as a child process of
 * a benchmark so the load generator does not share its event loop. Started by `startServerProcess`;
 * tells its parent `{ port, databaseUrl }` once listening, and closes (dropping the database) on
 * the message `close`.
 */
import { startBenchApp } from './support.js';

async function main(): Promise<void> {
  const env = JSON.parse(process.env.BENCH_APP_ENV ?? '{}') as Record<string, string>;
  const bench = await startBenchApp(env);
  await bench.app.listen({ port: 0, host: '127.0.0.1' });
  const address = bench.app.getHttpServer().address() as { port: number };
  process.on('message', (message) => {
    if (message === 'close') {
      void bench.close().then(() => process.exit(0));
    }
  });
  process.send?.({ port: address.port, databaseUrl: bench.url });
}

void main();
