import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ServerProcess {
  base: string;
  databaseUrl: string;
  child: ChildProcess;
  close(): Promise<void>;
}

/**
 * Starts the bench server (serve.ts) as a child process: the app gets its own event loop (and
 * core), and the load generator runs in this one. `env` is the app's configuration on top of
 * support.ts's defaults. `execArgv` passes node flags to the child (e.g. `--cpu-prof`).
 */
export function startServerProcess(env: Record<string, string> = {}, execArgv: string[] = []): Promise<ServerProcess> {
  const child = fork(fileURLToPath(new URL('./serve.js', import.meta.url)), [], {
    env: { ...process.env, BENCH_APP_ENV: JSON.stringify(env) },
    execArgv,
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    child.once('message', (message) => {
      const { port, databaseUrl } = message as { port: number; databaseUrl: string };
      resolve({
        base: `http://127.0.0.1:${port}`,
        databaseUrl,
        child,
        close: () =>
          new Promise<void>((done) => {
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.send('close');
          }),
      });
    });
  });
}
