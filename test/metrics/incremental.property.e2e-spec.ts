import fc from 'fast-check';
import { FixedClock } from '../../src/common/clock/clock.js';
import { aggregate, ingest, pageview } from '../factories/events.js';
import { computeMetrics } from '../factories/metrics.js';
import { createProject, type ProjectFixture } from '../factories/projects.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** One change to the sources, as the aggregation, the metrics pipeline or onboarding would make it. */
type Change =
  | { op: 'session'; id: number; slot: number; pages: number; converted: boolean; duration: number | null; completed: boolean }
  | { op: 'move'; id: number; slot: number }
  | { op: 'metrics'; id: number; draftMs: number | null; completion: number | null; step: string | null }
  | { op: 'remove'; id: number }
  | { op: 'kpi'; slot: number; kpi: number; source: string };

// 40 slots of 3 h 17 min from 03-27: across Berlin's DST change (03-29), a week and a month boundary.
const BASE = Date.parse('2026-03-27T00:00:00Z');
const slotTime = (slot: number) => new Date(BASE + slot * (3 * 60 + 17) * 60_000);

const change: fc.Arbitrary<Change> = fc.oneof(
  fc.record({
    op: fc.constant('session' as const),
    id: fc.integer({ min: 1, max: 8 }),
    slot: fc.integer({ min: 0, max: 39 }),
    pages: fc.integer({ min: 0, max: 3 }),
    converted: fc.boolean(),
    duration: fc.option(fc.integer({ min: 1, max: 40 }).map((n) => n * 7.5)),
    completed: fc.boolean(),
  }),
  fc.record({ op: fc.constant('move' as const), id: fc.integer({ min: 1, max: 8 }), slot: fc.integer({ min: 0, max: 39 }) }),
  fc.record({
    op: fc.constant('metrics' as const),
    id: fc.integer({ min: 1, max: 8 }),
    draftMs: fc.option(fc.integer({ min: 0, max: 100_000 })),
    completion: fc.option(fc.constantFrom(0, 0.25, 0.5, 1)),
    step: fc.option(fc.constantFrom('details', 'payment')),
  }),
  fc.record({ op: fc.constant('remove' as const), id: fc.integer({ min: 1, max: 8 }) }),
  fc.record({
    op: fc.constant('kpi' as const),
    slot: fc.integer({ min: 0, max: 39 }),
    kpi: fc.integer({ min: 1, max: 2 }),
    source: fc.constantFrom('api', 'web'),
  }),
);

async function apply(t: TestApp, projectId: string, c: Change): Promise<void> {
  const sessionId = `p-${'id' in c ? c.id : 0}`;
  switch (c.op) {
    case 'session': {
      const paths = ['/', '/a', '/b'].slice(0, c.pages);
      await t.sql(
        `INSERT INTO sessions (project_id, session_id, status, started_at, ended_at, completed_at, duration_seconds, page_count, event_count,
                               entry_page, exit_page, journey_path, bounced, converted, aggregated_at)
         VALUES ($1, $2, $3, $4, $4, CASE WHEN $3 = 'completed' THEN $4::timestamptz END, $5, $6, $6 + 1, $7, $8, $9, $6 = 1, $10, now())
         ON CONFLICT (project_id, session_id) DO UPDATE SET status = excluded.status, started_at = excluded.started_at,
           duration_seconds = excluded.duration_seconds, page_count = excluded.page_count, entry_page = excluded.entry_page,
           exit_page = excluded.exit_page, journey_path = excluded.journey_path, bounced = excluded.bounced, converted = excluded.converted`,
        [
          projectId,
          sessionId,
          c.completed ? 'completed' : 'active',
          slotTime(c.slot),
          c.duration,
          c.pages,
          paths[0] ?? null,
          paths.at(-1) ?? null,
          paths,
          c.converted,
        ],
      );
      return;
    }
    case 'move':
      await t.sql(`UPDATE sessions SET started_at = $3 WHERE project_id = $1 AND session_id = $2`, [projectId, sessionId, slotTime(c.slot)]);
      return;
    case 'metrics':
      await t.sql(
        `INSERT INTO session_metrics (project_id, session_id, time_to_first_draft_ms, completion_rate, confirmation_rate, signal_density,
                                      dropped_off, drop_off_step, session_aggregated_at, computed_at)
         SELECT $1, $2, $3::bigint, $4::float8, NULL, 1, $5::text IS NOT NULL, $5::text, now(), now() FROM sessions WHERE project_id = $1 AND session_id = $2
         ON CONFLICT (project_id, session_id) DO UPDATE SET time_to_first_draft_ms = excluded.time_to_first_draft_ms,
           completion_rate = excluded.completion_rate, dropped_off = excluded.dropped_off, drop_off_step = excluded.drop_off_step`,
        [projectId, sessionId, c.draftMs, c.completion, c.step],
      );
      return;
    case 'remove':
      await t.sql(`DELETE FROM session_metrics WHERE project_id = $1 AND session_id = $2`, [projectId, sessionId]);
      await t.sql(`DELETE FROM sessions WHERE project_id = $1 AND session_id = $2`, [projectId, sessionId]);
      return;
    case 'kpi':
      await t.sql(
        `INSERT INTO kpi_events (project_id, id, kpi_id, user_id, occurred_at, metadata, recorded_at)
         VALUES ($1, gen_random_uuid(), $2, 'u', $3, $4, now())`,
        [projectId, `kpi.onboarding.step_${c.kpi}_completed`, slotTime(c.slot), JSON.stringify({ step: c.kpi, source: c.source })],
      );
  }
}

/** The derived tables without their row ids and compute stamps, in a total order (KPI drilldown rows differ only by entity_id). */
async function readModel(t: TestApp) {
  return {
    trend: await t.sql(
      `SELECT project_id, metric_key, time_grain, time_bucket, dimensions, value_numeric, value_json FROM metrics_trend_point
       ORDER BY project_id, metric_key, time_grain, time_bucket`,
    ),
    breakdown: await t.sql(
      `SELECT project_id, metric_key, dimension_key, time_grain, time_bucket, dimension_value, value_numeric, value_json FROM metrics_breakdown_point
       ORDER BY project_id, metric_key, dimension_key, time_bucket, dimension_value`,
    ),
    drilldown: await t.sql(
      `SELECT project_id, metric_key, entity_type, entity_id, reference_id, time_bucket, payload FROM metrics_drilldown
       ORDER BY project_id, metric_key, entity_type, entity_id, reference_id, time_bucket`,
    ),
  };
}

describe('metrics compute: incremental equals full', () => {
  const clock = new FixedClock(new Date('2026-04-10T00:00:00Z'));
  let t: TestApp;
  let projects: ProjectFixture[];

  beforeAll(async () => {
    t = await startTestApp({ clock });
    projects = [await createProject(t, { name: 'utc' }), await createProject(t, { name: 'berlin', timezone: 'Europe/Berlin' })];
  });
  afterAll(() => t.close());

  it('gives the same tables as one full rebuild for any split of the same changes across runs, and a rerun changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), change), { minLength: 1, maxLength: 25 }),
        fc.array(fc.integer({ min: 0, max: 24 }), { maxLength: 4 }),
        async (changes, cuts) => {
          for (const table of ['metrics_trend_point', 'metrics_breakdown_point', 'metrics_drilldown', 'kpi_events', 'session_metrics', 'sessions']) {
            await t.sql(`DELETE FROM ${table}`);
          }
          await computeMetrics(t);
          for (let i = 0; i < changes.length; i++) {
            const [project, c] = changes[i];
            await apply(t, projects[project].id, c);
            if (cuts.includes(i)) await computeMetrics(t);
          }
          await computeMetrics(t);
          const incremental = await readModel(t);
          const rerun = await computeMetrics(t);
          expect(rerun).toMatchObject({ sessionsChanged: 0, kpiEventsChanged: 0, buckets: 0, trendPointsUpserted: 0, trendPointsDeleted: 0 });
          expect(await readModel(t)).toEqual(incremental);
          await computeMetrics(t, true);
          expect(await readModel(t)).toEqual(incremental);
        },
      ),
      { numRuns: 25 },
    );
  }, 240_000);
});

describe('metrics compute after the session aggregation', () => {
  const clock = new FixedClock(new Date('2026-04-10T00:00:00Z'));
  let t: TestApp;
  let shop: ProjectFixture;
  const get = (path: string) => t.request({ url: `/v1/projects/${shop.id}${path}`, key: shop.keys.read });

  beforeAll(async () => {
    t = await startTestApp({ clock });
    shop = await createProject(t);
  });
  afterAll(() => t.close());

  it('moves a session to its earlier bucket when a late event changes its start, and empties the old bucket', async () => {
    await ingest(t, shop, [pageview('late', '/', '2026-04-02T10:00:00Z'), pageview('late', '/x', '2026-04-02T10:05:00Z')]);
    await aggregate(t);
    await computeMetrics(t);
    const range = '/metrics/sessions/trend?grain=day&from=2026-04-01T00:00:00Z&to=2026-04-03T00:00:00Z';
    expect((await get(range)).body.points.map((p: { value: number }) => p.value)).toEqual([0, 1]);
    // a late event from the evening before: the session now starts on 04-01
    await ingest(t, shop, [pageview('late', '/early', '2026-04-01T23:00:00Z')]);
    await aggregate(t);
    const counts = await computeMetrics(t);
    expect(counts.sessionsChanged).toBe(1);
    expect((await get(range)).body.points.map((p: { value: number }) => p.value)).toEqual([1, 0]);
    const rows = await t.sql(`SELECT time_bucket FROM metrics_trend_point WHERE project_id = $1 AND metric_key = 'sessions' AND time_grain = 'day'`, [
      shop.id,
    ]);
    expect(rows.map((r: { time_bucket: Date }) => r.time_bucket.toISOString())).toEqual(['2026-04-01T00:00:00.000Z']);
    const duration = await get('/metrics/avg_duration_seconds/trend?grain=day&from=2026-04-01T00:00:00Z&to=2026-04-02T00:00:00Z');
    // 23:00 → 10:05 next day = 11 h 5 min = 39,900 s
    expect(duration.body.points[0].value).toBe(39_900);
  });
});

describe('metrics compute triggered by the session aggregation job', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { JOBS_ENABLED: 'true' } });
  });
  afterAll(() => t.close());

  it('runs metrics-compute right after a successful session-aggregation run', async () => {
    const shop = await createProject(t);
    await ingest(t, shop, [pageview('s', '/', new Date().toISOString())]);
    await aggregate(t);
    let run: { status: string; trigger: string; params: Record<string, unknown> } | undefined;
    for (let i = 0; i < 100 && run?.status !== 'succeeded'; i++) {
      const runs = await t.request({ url: '/v1/jobs/metrics-compute/runs' });
      run = runs.body.data.find((r: { params: { after?: string } }) => r.params.after === 'session-aggregation');
      if (run?.status !== 'succeeded') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(run).toMatchObject({ status: 'succeeded', trigger: 'chained', params: { after: 'session-aggregation' } });
    const points = await t.sql(`SELECT count(*)::int AS n FROM metrics_trend_point WHERE project_id = $1 AND metric_key = 'sessions'`, [shop.id]);
    expect(points[0].n).toBe(4);
  });
});
