import { PgBoss } from 'pg-boss';
import { PermanentJobError } from '../../src/common/queue/queue.service.js';
import { JobRegistry } from '../../src/jobs/job-registry.js';
import { OperationalMetricsCollector } from '../../src/operational-metrics/operational-metrics.collector.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { runJob } from '../factories/operational-metrics.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const SYSTEM_PROJECT_ID = '00000000-0000-0000-0000-000000000000';

describe('operational metrics collector and the service recording itself', () => {
  let t: TestApp;
  let shop: ProjectFixture;
  let collector: OperationalMetricsCollector;

  const rowsOf = (projectId: string, labelsKey: string) =>
    t.sql(`SELECT metric_type AS type, value, labels FROM operational_metrics WHERE project_id = $1 AND labels_key = $2 ORDER BY id`, [
      projectId,
      labelsKey,
    ]);

  beforeAll(async () => {
    t = await startTestApp();
    shop = await createProject(t);
    collector = t.get(OperationalMetricsCollector);
  });
  afterAll(() => t.close());

  it("writes through the caller's transaction and is kept when the caller commits", async () => {
    await t.dataSource.transaction(async (tx) => {
      await collector.recordTokenUsage(tx, 812, { model: 'm1', actor: 'summariser' }, { projectId: shop.id });
      await collector.recordConfidence(tx, 0.75, { actor: 'summariser' }, { projectId: shop.id });
    });
    expect(await rowsOf(shop.id, 'actor:summariser|model:m1')).toEqual([
      { type: 'token_usage', value: 812, labels: { actor: 'summariser', model: 'm1' } },
    ]);
    expect(await rowsOf(shop.id, 'actor:summariser')).toEqual([{ type: 'confidence', value: 0.75, labels: { actor: 'summariser' } }]);
  });

  it('never commits on its own: the metric is invisible until the caller commits and gone when it rolls back', async () => {
    await t.inRolledBackTransaction(async (runner) => {
      await collector.recordQueueDepth(runner.manager, 7, { queue: 'uncommitted' }, { projectId: shop.id });
      await collector.recordProcessingTime(runner.manager, 12.5, { queue: 'uncommitted', actor: 'w' }, { projectId: shop.id });
      await collector.recordError(runner.manager, { queue: 'uncommitted', code: 'BOOM' }, { projectId: shop.id });
      const insideTransaction = await runner.query(`SELECT count(*)::int AS n FROM operational_metrics WHERE labels ->> 'queue' = 'uncommitted'`);
      expect(insideTransaction[0].n).toBe(3);
      const fromOutside = await t.sql(`SELECT count(*)::int AS n FROM operational_metrics WHERE labels ->> 'queue' = 'uncommitted'`);
      expect(fromOutside[0].n).toBe(0);
    });
    const afterRollback = await t.sql(`SELECT count(*)::int AS n FROM operational_metrics WHERE labels ->> 'queue' = 'uncommitted'`);
    expect(afterRollback[0].n).toBe(0);

    await expect(
      t.dataSource.transaction(async (tx) => {
        await collector.recordError(tx, { actor: 'rolled-back' }, { projectId: shop.id });
        throw new Error('the work failed');
      }),
    ).rejects.toThrow('the work failed');
    expect(await rowsOf(shop.id, 'actor:rolled-back')).toEqual([]);
  });

  it('refuses a value or label the type does not allow', async () => {
    await t.dataSource.transaction(async (tx) => {
      await expect(collector.recordConfidence(tx, 1.5)).rejects.toThrow(/confidence value must be from 0 to 1/);
      await expect(collector.recordQueueDepth(tx, 2.5)).rejects.toThrow(/integer/);
      await expect(collector.recordError(tx, { actor: 'a', region: 'eu' } as never)).rejects.toThrow(/unknown label "region"/);
    });
  });

  it('records processing time and an error with its code for a failing job run, in the run-finishing transaction', async () => {
    t.get(JobRegistry).register({
      name: 'test-failing-job',
      description: 'fails on purpose',
      scheduled: false,
      run: async () => {
        throw new PermanentJobError('TEST_JOB_BROKE', 'broken on purpose');
      },
    });
    const run = await runJob(t, 'test-failing-job');
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/broken on purpose/);

    const errors = await t.request({ url: '/v1/operational-metrics?type=error&labelsKey=actor:test-failing-job|code:TEST_JOB_BROKE' });
    expect(errors.body.data).toEqual([
      expect.objectContaining({ type: 'error', value: 1, labels: { actor: 'test-failing-job', code: 'TEST_JOB_BROKE' } }),
    ]);
    const times = await t.request({ url: '/v1/operational-metrics?type=processing_time&labelsKey=actor:test-failing-job' });
    expect(times.body.data).toHaveLength(1);
    expect(times.body.data[0].value).toBeGreaterThanOrEqual(0);
    // one transaction: the run's finish and its metrics share a transaction id
    const [same] = await t.sql(
      `SELECT count(DISTINCT m.xmin::text)::int AS metric_xids, bool_and(m.xmin = r.xmin) AS same
       FROM operational_metrics m, job_runs r
       WHERE r.job_name = 'test-failing-job' AND m.project_id = $1 AND m.labels ->> 'actor' = 'test-failing-job'`,
      [SYSTEM_PROJECT_ID],
    );
    expect(same).toEqual({ metric_xids: 1, same: true });

    const prometheus = await t.request({ url: '/metrics', key: null });
    expect(prometheus.text).toMatch(/trailmark_errors_total\{actor="test-failing-job",code="TEST_JOB_BROKE"\} 1/);
    expect(prometheus.text).toMatch(/trailmark_job_run_duration_seconds_count\{job="test-failing-job",status="failed"\} 1/);
  });

  it('records processing time, and no error, for a job run that succeeds', async () => {
    t.get(JobRegistry).register({ name: 'test-quiet-job', description: 'does nothing', scheduled: false, run: async () => ({ done: 1 }) });
    expect((await runJob(t, 'test-quiet-job')).status).toBe('succeeded');
    const own = await t.request({ url: '/v1/operational-metrics' });
    const quiet = own.body.data.filter((m: { labels: { actor?: string } }) => m.labels.actor === 'test-quiet-job');
    expect(quiet.map((m: { type: string }) => m.type)).toEqual(['processing_time']);
  });

  it('samples the depth of every pg-boss queue, dead letters included, with queue-depth-sample', async () => {
    const boss = new PgBoss({ connectionString: t.database.url, schema: 'pgboss', supervise: false, schedule: false } as ConstructorParameters<
      typeof PgBoss
    >[0]);
    await boss.start();
    await boss.createQueue('test-depth');
    await boss.createQueue('test-empty');
    for (let i = 0; i < 3; i++) await boss.send('test-depth', { i });
    await boss.stop({ graceful: false, close: true });

    const run = await runJob(t, 'queue-depth-sample');
    expect(run.status).toBe('succeeded');
    const samples = await t.sql(
      `SELECT labels_key AS "labelsKey", value FROM operational_metrics
       WHERE project_id = $1 AND metric_type = 'queue_depth' ORDER BY labels_key`,
      [SYSTEM_PROJECT_ID],
    );
    // The service's own queue (and its dead letters) is sampled too, empty here.
    expect(samples).toEqual([
      { labelsKey: 'queue:session-metrics', value: 0 },
      { labelsKey: 'queue:session-metrics.dead', value: 0 },
      { labelsKey: 'queue:test-depth', value: 3 },
      { labelsKey: 'queue:test-empty', value: 0 },
    ]);
    const prometheus = await t.request({ url: '/metrics', key: null });
    expect(prometheus.text).toMatch(/trailmark_queue_depth\{queue="test-depth"\} 3/);
  });

  it('records an error for a 5xx answer', async () => {
    await t.sql(`ALTER TABLE operational_metrics_daily RENAME TO operational_metrics_daily_away`);
    try {
      const res = await t.request({ url: '/v1/operational-metrics/daily' });
      expect(res.status).toBe(500);
    } finally {
      await t.sql(`ALTER TABLE operational_metrics_daily_away RENAME TO operational_metrics_daily`);
    }
    let rows: unknown[] = [];
    for (let attempt = 0; attempt < 50 && rows.length === 0; attempt++) {
      rows = await rowsOf(SYSTEM_PROJECT_ID, 'actor:http|code:HTTP_500');
      if (rows.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(rows).toEqual([{ type: 'error', value: 1, labels: { actor: 'http', code: 'HTTP_500' } }]);
  });
});
