import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/clock/clock.js';
import type { Db } from '../common/database/sql.js';
import type { JobCounts } from '../jobs/job-registry.js';
import { KPI_METRIC_KEYS, METRICS_RETENTION, SUMMARY_VERSION } from './metric-catalogue.constants.js';
import { MetricsReadModelRepository } from './metrics-read-model.repository.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The summary's figures, in payload order. */
const SUMMARY_FIGURES = [
  'sessions',
  'bounce_rate',
  'conversion_rate',
  'median_duration_seconds',
  'drop_off_rate',
  'completion_rate',
  ...KPI_METRIC_KEYS,
];

/** The summary's windows: the last 24 hours, 7 days and 30 days before the snapshot, each with the period before it. */
export const SUMMARY_WINDOWS = [
  { key: '24h', ms: DAY_MS },
  { key: '7d', ms: 7 * DAY_MS },
  { key: '30d', ms: 30 * DAY_MS },
] as const;

// The summary's additive figures come from the hour and day points of its windows and of the
// periods before them (see summaryFigures): retention must keep both (the fine grains) at least that long.
if (2 * Math.max(...SUMMARY_WINDOWS.map((w) => w.ms)) > METRICS_RETENTION.fineTrendDays * DAY_MS) {
  throw new Error('the summary reads hour and day points older than the retention keeps them');
}

export interface HeadlineValue {
  value: number | null;
  previous: number | null;
  /** value − previous (null when either is null). */
  change: number | null;
  /** (value − previous) / previous (null when previous is null or 0). */
  changeRatio: number | null;
}

function headline(value: number | null, previous: number | null): HeadlineValue {
  const change = value === null || previous === null ? null : value - previous;
  return { value, previous, change, changeRatio: change === null || previous === 0 || previous === null ? null : change / previous };
}

/**
 * The `metrics-compute` job's work, in two REPEATABLE READ transactions on one snapshot of every
 * source (all or nothing; see MetricsReadModelRepository.computeAlongside): the first finds the
 * source rows changed since the last compute, recomputes each affected bucket (every grain) from all
 * its source rows, then snapshots the summary of every project (one per project and run, so its
 * windows end at the run); the second, meanwhile, writes the drilldown and consumes the change log.
 */
@Injectable()
export class MetricsComputeService {
  private readonly logger = new Logger(MetricsComputeService.name);

  constructor(
    private readonly repository: MetricsReadModelRepository,
    private readonly clock: Clock,
  ) {}

  async run(options: { full?: boolean; logger?: Logger } = {}): Promise<JobCounts> {
    const log = options.logger ?? this.logger;
    const now = this.clock.now();
    const started = performance.now();
    let full = options.full === true;
    let mark = performance.now();
    const step = (name: string, extra: Record<string, unknown> = {}) => {
      log.log({ ...extra, ms: Math.round(performance.now() - mark) }, `metrics compute: ${name}`);
      mark = performance.now();
    };
    const drilldownCutoff = new Date(now.getTime() - METRICS_RETENTION.drilldownDays * DAY_MS);
    let bothStarted = 0;
    const [written, drilldown] = await this.repository.computeAlongside(async (tx) => {
      if (!full && (await this.repository.definitionChanged(tx))) {
        full = true;
        log.log(
          'metrics compute: the read model definition (catalogue, counted columns or components) changed since the last full rebuild; rebuilding in full',
        );
      }
      bothStarted = performance.now();
      return {
        // everything but the drilldown
        work: async () => {
          if (full) await this.repository.clearAll(tx);
          const changes = await this.repository.findChanges(tx, full);
          step('changed sources found', { ...changes, full });
          const trend = await this.repository.recomputeTrend(tx, now, full);
          step('trend points written', { ...trend });
          const breakdown = await this.repository.recomputeBreakdown(tx, now, full);
          step('breakdown points written', { ...breakdown });
          const summaries = await this.snapshotSummaries(tx, now);
          step('summaries inserted', { summaries });
          return { changes, trend, breakdown, summaries };
        },
        sideWork: (sibling) => this.repository.writeDrilldownAndConsume(sibling, now, drilldownCutoff, full),
      };
    });
    // ms: how long the rest waited for it, and the commits
    step('drilldown rows written alongside, both committed', { ...drilldown, sinceStartMs: Math.round(performance.now() - bothStarted) });
    const { changes, trend, breakdown, summaries } = written;
    const counts = {
      full,
      sessionsChanged: changes.sessions,
      kpiEventsChanged: changes.kpiEvents,
      buckets: changes.buckets,
      trendPointsUpserted: trend.upserted,
      trendPointsDeleted: trend.deleted,
      dayValuesUpserted: trend.dayValues.upserted,
      dayValuesDeleted: trend.dayValues.deleted,
      breakdownPointsUpserted: breakdown.upserted,
      breakdownPointsDeleted: breakdown.deleted,
      drilldownRowsUpserted: drilldown.upserted,
      drilldownRowsDeleted: drilldown.deleted,
      summariesInserted: summaries,
    };
    if (full) {
      const vacuumed = performance.now();
      await this.repository.vacuumRebuiltTables();
      log.log({ ms: Math.round(performance.now() - vacuumed) }, 'metrics compute: rebuilt tables vacuumed and analyzed');
    }
    return { ...counts, durationMs: Math.round(performance.now() - started) };
  }

  private async snapshotSummaries(tx: Db, now: Date): Promise<number> {
    const projects = await this.repository.allProjects(tx);
    for (const projectId of projects) {
      await this.repository.insertSummary(tx, projectId, now, SUMMARY_VERSION, await this.summaryPayload(tx, projectId, now));
    }
    return projects.length;
  }

  /** The headline figures of each window and its previous period, as the live stats endpoints compute them. */
  private async summaryPayload(tx: Db, projectId: string, now: Date) {
    const periods = SUMMARY_WINDOWS.map((w) => {
      const from = new Date(now.getTime() - w.ms);
      return { window: w, from, to: now, previousFrom: new Date(from.getTime() - w.ms) };
    });
    const figures = await this.repository.summaryFigures(
      tx,
      projectId,
      SUMMARY_FIGURES,
      periods.flatMap((p) => [
        { from: p.from, to: p.to },
        { from: p.previousFrom, to: p.from },
      ]),
    );
    const windows: Record<string, unknown> = {};
    periods.forEach((p, i) => {
      const [cur, prev] = [figures[2 * i], figures[2 * i + 1]];
      const metrics: Record<string, HeadlineValue> = {};
      for (const key of SUMMARY_FIGURES) metrics[key] = headline(cur[key], prev[key]);
      windows[p.window.key] = {
        from: p.from.toISOString(),
        to: p.to.toISOString(),
        previousFrom: p.previousFrom.toISOString(),
        previousTo: p.from.toISOString(),
        metrics,
      };
    });
    return { windows };
  }
}
