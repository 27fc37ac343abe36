import { exactSumSql, measureValueSql, percentileComponentsSql, type Measure, type PercentileComponent } from '../common/database/measures.js';

/**
 * THE definitions of the session statistics (GET …/stats/sessions, docs/sessions.md), as additive
 * components of any group of `sessions` rows aliased `s`, and the measure each statistic is made
 * of. The live endpoint groups the whole range into one row; the metrics read model groups by time
 * bucket and dimension with the very same select list, so both give the same figures. Sums of
 * fractional quantities are exact (exactSumSql), so the same rows give the same sum in any order.
 */
export const SESSION_STATS_ADDITIVE_COMPONENTS = `
  count(*)::int                                                          AS sessions,
  (count(*) FILTER (WHERE s.status = 'completed'))::int                  AS completed_sessions,
  (count(*) FILTER (WHERE s.bounced))::int                               AS bounced,
  (count(*) FILTER (WHERE s.page_count >= 1))::int                       AS with_pageview,
  (count(*) FILTER (WHERE s.converted))::int                             AS converted,
  count(s.duration_seconds)::int                                         AS duration_count,
  ${exactSumSql('s.duration_seconds')}                                    AS duration_sum,
  coalesce(sum(s.page_count), 0)::bigint                                 AS pages`;

/** The components that are not additive (computed per group from its rows). */
export const SESSION_STATS_PERCENTILES: readonly PercentileComponent[] = [
  { component: 'median_duration_seconds', fraction: 0.5, quantity: 'duration_seconds', expression: 's.duration_seconds' },
];

export const SESSION_STATS_PERCENTILE_COMPONENTS = percentileComponentsSql(SESSION_STATS_PERCENTILES);

export const SESSION_STATS_COMPONENTS = `${SESSION_STATS_ADDITIVE_COMPONENTS},${SESSION_STATS_PERCENTILE_COMPONENTS}`;

/**
 * - bounce rate: bounced / sessions with at least one pageview;
 * - conversion rate and pages per session: over all sessions;
 * - average and median duration: over sessions with a duration (more than one event).
 */
export const SESSION_STATS_MEASURES = {
  sessions: { kind: 'count', count: 'sessions' },
  completed_sessions: { kind: 'count', count: 'completed_sessions' },
  bounce_rate: { kind: 'rate', numerator: 'bounced', denominator: 'with_pageview' },
  conversion_rate: { kind: 'rate', numerator: 'converted', denominator: 'sessions' },
  avg_duration_seconds: { kind: 'mean', sum: 'duration_sum', count: 'duration_count' },
  median_duration_seconds: { kind: 'percentile', value: 'median_duration_seconds', count: 'duration_count' },
  pages_per_session: { kind: 'rate', numerator: 'pages', denominator: 'sessions' },
} as const satisfies Record<string, Measure>;

/** Session statistics over sessions started in [$2, $3) (either bound may be null) of project $1. */
export const SESSION_STATS_SQL = `
WITH c AS (
  SELECT ${SESSION_STATS_COMPONENTS}
  FROM sessions s
  WHERE s.project_id = $1 AND ($2::timestamptz IS NULL OR s.started_at >= $2) AND ($3::timestamptz IS NULL OR s.started_at < $3)
)
SELECT ${measureValueSql(SESSION_STATS_MEASURES.sessions)}                AS "sessions",
       ${measureValueSql(SESSION_STATS_MEASURES.completed_sessions)}      AS "completedSessions",
       ${measureValueSql(SESSION_STATS_MEASURES.bounce_rate)}             AS "bounceRate",
       ${measureValueSql(SESSION_STATS_MEASURES.conversion_rate)}         AS "conversionRate",
       ${measureValueSql(SESSION_STATS_MEASURES.avg_duration_seconds)}    AS "avgDurationSeconds",
       ${measureValueSql(SESSION_STATS_MEASURES.median_duration_seconds)} AS "medianDurationSeconds",
       ${measureValueSql(SESSION_STATS_MEASURES.pages_per_session)}       AS "pagesPerSession"
FROM c`;
