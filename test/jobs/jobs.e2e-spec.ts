import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { FixedClock } from '../../src/common/clock/clock.js';
import { PermanentJobError, QueueService } from '../../src/common/queue/queue.service.js';
import { JobRegistry } from '../../src/jobs/job-registry.js';
import { JobScheduler } from '../../src/jobs/job-scheduler.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { sleep, until } from '../support/wait.js';

/** Test jobs: one that fails, one that waits for a signal. */
function registerTestJobs(t: TestApp): { release: () => void } {
  const registry = t.get(JobRegistry);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  registry.register({
    name: 'test-fails',
    description: 'always fails',
    scheduled: false,
    run: async () => {
      throw new Error('the warehouse is on fire');
    },
  });
  registry.register({
    name: 'test-slow',
    description: 'finishes when released',
    scheduled: false,
    run: async () => {
      await gate;
      return { released: true };
    },
  });
  return { release };
}

describe('jobs admin API', () => {
  let t: TestApp;
  let release: () => void;

  beforeAll(async () => {
    t = await startTestApp();
    ({ release } = registerTestJobs(t));
  });
  afterAll(() => t.close());

  it('lists jobs with their schedule and next run', async () => {
    const res = await t.request({ url: '/v1/jobs' });
    expect(res.status).toBe(200);
    const prune = res.body.data.find((j: { name: string }) => j.name === 'job-runs-prune');
    expect(prune).toMatchObject({ schedule: '0 3 * * *', lastRun: null });
    // this instance runs no jobs (JOBS_ENABLED=false), but the schedule's next slot is known: the
    // next 03:00 UTC after now
    const now = new Date();
    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 3));
    if (next <= now) next.setUTCDate(next.getUTCDate() + 1);
    expect(prune.nextRunAt).toBe(next.toISOString());
    const unscheduled = res.body.data.find((j: { name: string }) => j.name === 'test-slow');
    expect(unscheduled).toMatchObject({ schedule: null, nextRunAt: null });
  });

  it('runs a job manually, answering 202 and recording the run', async () => {
    const started = await t.request({ method: 'POST', url: '/v1/jobs/job-runs-prune/runs' });
    expect(started.status).toBe(202);
    expect(started.body).toEqual({ runId: expect.any(String), status: 'queued' });
    const run = await until(
      () => t.request({ url: `/v1/jobs/job-runs-prune/runs/${started.body.runId}` }),
      (r) => r.body.status === 'succeeded',
    );
    expect(run.body).toMatchObject({ jobName: 'job-runs-prune', trigger: 'manual', status: 'succeeded', error: null });
    expect(run.body.counts).toMatchObject({ runsDeleted: 0 });
    expect(run.body.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('answers with the finished run when asked to wait', async () => {
    const res = await t.request({ method: 'POST', url: '/v1/jobs/job-runs-prune/runs?wait=true' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'succeeded', trigger: 'manual', finishedAt: expect.any(String) });
  });

  it('records a failed run with its error', async () => {
    const res = await t.request({ method: 'POST', url: '/v1/jobs/test-fails/runs?wait=true' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'failed', error: 'Error: the warehouse is on fire' });
    const listed = await t.request({ url: '/v1/jobs/test-fails/runs?limit=5' });
    expect(listed.body.data.map((r: { status: string }) => r.status)).toEqual(['failed']);
  });

  it('refuses a second run while one is in flight with 409 JOB_ALREADY_RUNNING', async () => {
    const first = await t.request({ method: 'POST', url: '/v1/jobs/test-slow/runs' });
    expect(first.status).toBe(202);
    const second = await t.request({ method: 'POST', url: '/v1/jobs/test-slow/runs?wait=true' });
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('JOB_ALREADY_RUNNING');
    release();
    const done = await until(
      () => t.request({ url: `/v1/jobs/test-slow/runs/${first.body.runId}` }),
      (r) => r.body.status === 'succeeded',
    );
    expect(done.body.counts).toEqual({ released: true });
    const third = await t.request({ method: 'POST', url: '/v1/jobs/test-slow/runs?wait=true' });
    expect(third.status).toBe(200);
  });

  it('answers 404 JOB_NOT_FOUND and JOB_RUN_NOT_FOUND', async () => {
    expect((await t.request({ method: 'POST', url: '/v1/jobs/no-such-job/runs' })).body.code).toBe('JOB_NOT_FOUND');
    expect((await t.request({ url: '/v1/jobs/no-such-job/runs' })).body.code).toBe('JOB_NOT_FOUND');
    const run = await t.request({ url: '/v1/jobs/job-runs-prune/runs/00000000-0000-4000-8000-000000000000' });
    expect(run.status).toBe(404);
    expect(run.body.code).toBe('JOB_RUN_NOT_FOUND');
  });

  it('rejects unknown body fields on a run request', async () => {
    const res = await t.request({ method: 'POST', url: '/v1/jobs/job-runs-prune/runs', body: { fast: true } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'fast', message: 'unknown field fast' }]);
  });

  it('takes { full: true } only for a job that can redo everything', async () => {
    const refused = await t.request({ method: 'POST', url: '/v1/jobs/queue-depth-sample/runs', body: { full: true } });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ field: 'full', message: 'job queue-depth-sample has no full run; it takes no options' }]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM job_runs WHERE job_name = 'queue-depth-sample'`)).toEqual([{ n: 0 }]);
    const full = await t.request({ method: 'POST', url: '/v1/jobs/metrics-compute/runs?wait=true', body: { full: true } });
    expect(full.body).toMatchObject({ status: 'succeeded', params: { full: true }, counts: { full: true } });
  });

  it('is admin-only', async () => {
    expect((await t.request({ url: '/v1/jobs', key: null })).status).toBe(401);
  });

  it('fails a run abandoned by a dead process so the job can run again', async () => {
    await t.sql(
      `INSERT INTO job_runs (job_name, trigger, status, heartbeat_at, started_at)
       VALUES ('job-runs-prune', 'manual', 'running', now() - interval '10 minutes', now() - interval '10 minutes')`,
    );
    const res = await t.request({ method: 'POST', url: '/v1/jobs/job-runs-prune/runs?wait=true' });
    expect(res.status).toBe(200);
    const abandoned = await t.sql(`SELECT status, error FROM job_runs WHERE error LIKE 'abandoned%'`);
    expect(abandoned).toEqual([{ status: 'failed', error: expect.stringContaining('abandoned') }]);
  });
});

describe('scheduled runs with two instances on one database', () => {
  it('runs each schedule slot once, whichever instance fires first', async () => {
    const clock = new FixedClock(new Date('2026-03-01T03:00:20Z'));
    // Both instances fire the prune job's cron every second against the same frozen minute.
    const env = { JOBS_ENABLED: 'true', JOB_RUNS_PRUNE_CRON: '* * * * * *' };
    const a = await startTestApp({ env, clock });
    const b = await startTestApp({ env, clock, database: a.database });
    try {
      await Promise.all([a.get(JobScheduler).tick('job-runs-prune'), b.get(JobScheduler).tick('job-runs-prune')]);
      await sleep(2500);
      const runs = await a.sql(`SELECT trigger, scheduled_for, status FROM job_runs WHERE job_name = 'job-runs-prune'`);
      expect(runs).toEqual([{ trigger: 'schedule', scheduled_for: new Date('2026-03-01T03:00:00Z'), status: 'succeeded' }]);

      clock.set('2026-03-01T03:01:05Z');
      await until(
        () => a.sql(`SELECT count(*)::int AS n FROM job_runs WHERE job_name = 'job-runs-prune'`),
        (rows) => rows[0].n === 2,
      );
      await sleep(1500);
      const slots = await a.sql(`SELECT scheduled_for FROM job_runs WHERE job_name = 'job-runs-prune' ORDER BY scheduled_for`);
      expect(slots.map((r: { scheduled_for: Date }) => r.scheduled_for.toISOString())).toEqual([
        '2026-03-01T03:00:00.000Z',
        '2026-03-01T03:01:00.000Z',
      ]);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

// A module defining test queues, as a feature module would.
@Injectable()
class TestQueues implements OnModuleInit {
  readonly attempts = new Map<string, number>();
  constructor(private readonly queue: QueueService) {}
  onModuleInit(): void {
    const count = (key: string) => {
      const n = (this.attempts.get(key) ?? 0) + 1;
      this.attempts.set(key, n);
      return n;
    };
    this.queue.defineQueue<{ key: string }>({
      name: 'test-flaky',
      handler: async ({ data }) => {
        if (count(data.key) < 3) throw new Error('transient failure');
      },
    });
    this.queue.defineQueue<{ key: string }>({
      name: 'test-broken',
      handler: async ({ data }) => {
        count(data.key);
        throw new Error('always fails');
      },
    });
    this.queue.defineQueue<{ key: string }>({
      name: 'test-permanent',
      handler: async ({ data }) => {
        count(data.key);
        throw new PermanentJobError('BAD_INPUT', 'cannot ever work');
      },
    });
  }
}
@Module({ providers: [TestQueues] })
class TestQueuesModule {}

describe('durable queue', () => {
  let t: TestApp;
  let queues: TestQueues;

  beforeAll(async () => {
    t = await startTestApp({ env: { JOBS_ENABLED: 'true' }, imports: [TestQueuesModule] });
    queues = t.get(TestQueues);
  });
  afterAll(() => t.close());

  const jobState = (queue: string) =>
    t.sql(`SELECT name, state, retry_count FROM pgboss.job WHERE name IN ($1, $2) ORDER BY name`, [queue, `${queue}.dead`]);

  it('retries a failing item with backoff until it succeeds on the third attempt', async () => {
    const queue = t.get(QueueService);
    await queue.send('test-flaky', { key: 'flaky' });
    const rows = await until(
      () => jobState('test-flaky'),
      (r) => r.some((j) => j.state === 'completed'),
      30_000,
    );
    expect(queues.attempts.get('flaky')).toBe(3);
    expect(rows).toEqual([{ name: 'test-flaky', state: 'completed', retry_count: 2 }]);
  }, 40_000);

  it('dead-letters an item after three failed attempts', async () => {
    await t.get(QueueService).send('test-broken', { key: 'broken' });
    const rows = await until(
      () => jobState('test-broken'),
      (r) => r.some((j) => j.name === 'test-broken.dead'),
      30_000,
    );
    expect(queues.attempts.get('broken')).toBe(3);
    expect(rows).toEqual([
      { name: 'test-broken', state: 'failed', retry_count: 2 },
      { name: 'test-broken.dead', state: 'created', retry_count: 0 },
    ]);
  }, 40_000);

  it('dead-letters a permanent failure at once, without retries', async () => {
    await t.get(QueueService).send('test-permanent', { key: 'permanent' });
    const rows = await until(
      () => jobState('test-permanent'),
      (r) => r.some((j) => j.name === 'test-permanent.dead'),
      15_000,
    );
    expect(queues.attempts.get('permanent')).toBe(1);
    expect(rows.find((r) => r.name === 'test-permanent.dead')).toBeDefined();
  }, 20_000);
});

describe('shutdown', () => {
  it('lets a running job finish before the app closes, and records it', async () => {
    const t = await startTestApp();
    t.get(JobRegistry).register({
      name: 'test-finishing',
      description: 'takes a moment',
      scheduled: false,
      run: async () => {
        await sleep(700);
        return { finished: true };
      },
    });
    const started = await t.request({ method: 'POST', url: '/v1/jobs/test-finishing/runs' });
    expect(started.status).toBe(202);
    await sleep(100);
    await t.close({ keepDatabase: true });
    const check = await startTestApp({ database: t.database });
    try {
      const runs = await check.sql(`SELECT status, counts FROM job_runs WHERE id = $1`, [started.body.runId]);
      expect(runs).toEqual([{ status: 'succeeded', counts: { finished: true } }]);
    } finally {
      await check.close();
      await t.database.drop();
    }
  });

  it('records a run still going at the shutdown timeout as failed, so the next run of its job can start at once', async () => {
    const t = await startTestApp({ env: { SHUTDOWN_TIMEOUT_MS: '300' } });
    const registerStuck = (app: TestApp) =>
      app.get(JobRegistry).register({
        name: 'test-stuck',
        description: 'outlives the shutdown timeout',
        scheduled: false,
        run: async () => {
          await sleep(3_000);
          return { finished: true };
        },
      });
    registerStuck(t);
    const started = await t.request({ method: 'POST', url: '/v1/jobs/test-stuck/runs' });
    expect(started.status).toBe(202);
    await sleep(100);
    await t.close({ keepDatabase: true });
    const next = await startTestApp({ database: t.database });
    try {
      const [run] = await next.sql(`SELECT status, error, finished_at IS NOT NULL AS finished FROM job_runs WHERE id = $1`, [started.body.runId]);
      expect(run).toMatchObject({ status: 'failed', finished: true });
      expect(run.error).toMatch(/^interrupted: the service shut down/);
      registerStuck(next);
      const again = await next.request({ method: 'POST', url: '/v1/jobs/test-stuck/runs' });
      expect(again.status).toBe(202);
    } finally {
      await next.close();
      await t.database.drop();
    }
  });
});
