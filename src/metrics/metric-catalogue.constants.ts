import type { Measure, MeasureKind } from '../common/database/measures.js';
import { ONBOARDING_KPI_IDS } from '../onboarding/kpi.constants.js';
import { SESSION_METRICS_MEASURES } from '../session-metrics/session-metrics.repository.js';
import { SESSION_STATS_MEASURES } from '../sessions/session-stats.sql.js';

/**
 * The metric catalogue: every metric of the read model defined once. A metric's value comes from
 * its source's components through its `measure` — the very measures the live stats endpoints use
 * (SESSION_STATS_MEASURES, SESSION_METRICS_MEASURES), so the read model and the live endpoints
 * cannot drift.
 */
export const TIME_GRAINS = ['hour', 'day', 'week', 'month'] as const;
export type TimeGrain = (typeof TIME_GRAINS)[number];

/**
 * `session`: the sessions table, bucketed by started_at (all sessions, as GET …/stats/sessions).
 * `session_metrics`: completed sessions with stored quality metrics, bucketed by the session's started_at.
 * `kpi_events`: recorded KPI events, bucketed by occurred_at.
 */
export type MetricSource = 'sessions' | 'session_metrics' | 'kpi_events';

export const BREAKDOWN_DIMENSIONS = ['entry_page', 'exit_page', 'drop_off_step', 'source'] as const;
export type BreakdownDimension = (typeof BREAKDOWN_DIMENSIONS)[number];

export const DRILLDOWN_ENTITY_TYPES = ['session', 'kpi_event'] as const;
export type DrilldownEntityType = (typeof DRILLDOWN_ENTITY_TYPES)[number];

/** Dimensions that split a bucket's total (a value's rate is its share of all the bucket's sessions). */
export const SHARE_OF_BUCKET_DIMENSIONS: readonly string[] = ['drop_off_step'];

/** Breakdowns and drilldowns are written per day bucket. */
export const BREAKDOWN_GRAIN: TimeGrain = 'day';

export interface MetricDefinition {
  key: string;
  title: string;
  unit: 'count' | 'ratio' | 'seconds' | 'milliseconds' | 'signals_per_minute' | 'pages';
  source: MetricSource;
  /** How the value is computed, in words (the SQL is the measure's). */
  computation: string;
  measure: Measure;
  grains: readonly TimeGrain[];
  breakdownDimensions: readonly BreakdownDimension[];
  drilldownEntityTypes: readonly DrilldownEntityType[];
  /** The metric_key the drilldown rows of this metric are stored under (shared by a source's metrics). */
  drilldownKey: string;
}

const ALL_GRAINS = TIME_GRAINS;

/** Title, unit, how it is computed, and the breakdown dimensions (none unless given). */
type MetricText = [title: string, unit: MetricDefinition['unit'], computation: string, breakdownDimensions?: readonly BreakdownDimension[]];

/** A metric of sessions bucketed by their start: every grain, drilled down to the sessions behind it. */
function bucketedBySessionStart(
  source: 'sessions' | 'session_metrics',
  key: string,
  measure: Measure,
  [title, unit, computation, breakdownDimensions = []]: MetricText,
): MetricDefinition {
  return {
    key,
    title,
    unit,
    source,
    computation,
    measure,
    grains: ALL_GRAINS,
    breakdownDimensions,
    drilldownEntityTypes: ['session'],
    drilldownKey: 'sessions',
  };
}

function sessionMetric(key: keyof typeof SESSION_STATS_MEASURES, ...text: MetricText): MetricDefinition {
  return bucketedBySessionStart('sessions', key, SESSION_STATS_MEASURES[key], text);
}

function qualityMetric(key: Exclude<keyof typeof SESSION_METRICS_MEASURES, 'time_to_first_draft_ms_avg'>, ...text: MetricText): MetricDefinition {
  return bucketedBySessionStart('session_metrics', key, SESSION_METRICS_MEASURES[key], text);
}

function kpiMetric(kpiId: string): MetricDefinition {
  return {
    key: kpiId,
    title: `KPI events ${kpiId}`,
    unit: 'count',
    source: 'kpi_events',
    computation: `Recorded KPI events with kpi_id = ${kpiId}, bucketed by occurred_at`,
    measure: { kind: 'count', count: 'events' },
    grains: ALL_GRAINS,
    breakdownDimensions: ['source'],
    drilldownEntityTypes: ['kpi_event'],
    drilldownKey: kpiId,
  };
}

export const METRIC_CATALOGUE: readonly MetricDefinition[] = [
  sessionMetric('sessions', 'Sessions', 'count', 'Sessions started in the bucket (active and completed)', ['entry_page', 'exit_page']),
  sessionMetric('completed_sessions', 'Completed sessions', 'count', 'Sessions started in the bucket that are completed'),
  sessionMetric('bounce_rate', 'Bounce rate', 'ratio', 'Bounced sessions / sessions with at least one pageview', ['entry_page', 'exit_page']),
  sessionMetric('conversion_rate', 'Conversion rate', 'ratio', 'Converted sessions / sessions', ['entry_page', 'exit_page']),
  sessionMetric('avg_duration_seconds', 'Average session duration', 'seconds', 'Sum / count of durations of sessions with more than one event'),
  sessionMetric('median_duration_seconds', 'Median session duration', 'seconds', 'Median (percentile_cont 0.5) duration per bucket; not combinable'),
  sessionMetric('pages_per_session', 'Pages per session', 'pages', 'Pageviews / sessions'),
  qualityMetric(
    'time_to_first_draft_ms_p50',
    'Time to first draft, median',
    'milliseconds',
    'percentile_cont 0.5 of time_to_first_draft_ms per bucket',
  ),
  qualityMetric(
    'time_to_first_draft_ms_p90',
    'Time to first draft, 90th percentile',
    'milliseconds',
    'percentile_cont 0.9 of time_to_first_draft_ms per bucket',
  ),
  qualityMetric('completion_rate', 'Step completion rate', 'ratio', 'Mean of the per-session completion rate over sessions that started a step'),
  qualityMetric('confirmation_rate', 'Draft confirmation rate', 'ratio', 'Mean of the per-session confirmation rate over sessions with a draft'),
  qualityMetric('signal_density', 'Signal density', 'signals_per_minute', 'Mean of the per-session signals per minute'),
  qualityMetric(
    'drop_off_rate',
    'Drop-off rate',
    'ratio',
    'Dropped-off sessions / completed sessions with metrics (by drop_off_step: those that dropped off at the step / all)',
    ['drop_off_step'],
  ),
  ...Object.values(ONBOARDING_KPI_IDS).map(kpiMetric),
];

const BY_KEY = new Map(METRIC_CATALOGUE.map((m) => [m.key, m]));

export function findMetric(key: string): MetricDefinition | undefined {
  return BY_KEY.get(key);
}

export function metricsOfSource(source: MetricSource): MetricDefinition[] {
  return METRIC_CATALOGUE.filter((m) => m.source === source);
}

export const KPI_METRIC_KEYS: string[] = metricsOfSource('kpi_events').map((m) => m.key);

/** Gap filling: counts are 0 in a bucket without data, rates, means and percentiles are null. */
export function emptyValue(kind: MeasureKind): number | null {
  return kind === 'count' ? 0 : null;
}

/** A trend range may hold at most this many buckets. */
export const MAX_TREND_BUCKETS = 2000;

/** Retention (seed §5), in days before now. */
export const METRICS_RETENTION = {
  summaryDays: 180,
  /** Older summaries keep only the last snapshot of each (UTC) day. */
  summaryAllSnapshotsDays: 30,
  /** hour and day trend points; week and month points are kept. */
  fineTrendDays: 90,
  breakdownDays: 90,
  drilldownDays: 30,
} as const;

/** The grains that retention drops after METRICS_RETENTION.fineTrendDays (downsampled to week). */
export const FINE_GRAINS: readonly TimeGrain[] = ['hour', 'day'];

export const SUMMARY_VERSION = '1.0';
