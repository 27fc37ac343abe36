/**
 * How a statistic is made from additive components, once for every kind. The live stats endpoints
 * (one group = the whole range), the metrics compute job (one group per time bucket) and the
 * Metrics API (a range of buckets combined from their stored components) all turn components into
 * a value through {@link measureValueSql}, so no formula exists twice.
 *
 * - `count`: a number of rows;
 * - `rate`: numerator / denominator (null when the denominator is 0);
 * - `mean`: sum / count over the rows where the quantity is not null (null when none);
 * - `percentile`: computed per group from the rows themselves (not combinable across groups);
 *   `count` is the number of rows it rests on.
 * Each part is the name of a component column (or any SQL expression giving it).
 */
export type Measure =
  | { kind: 'count'; count: string }
  | { kind: 'rate'; numerator: string; denominator: string }
  | { kind: 'mean'; sum: string; count: string }
  | { kind: 'percentile'; value: string; count: string };

export type MeasureKind = Measure['kind'];

/** The parts of each kind, in the order they are stored in `value_json`. */
export const MEASURE_PARTS = {
  count: ['count'],
  rate: ['numerator', 'denominator'],
  mean: ['sum', 'count'],
  percentile: ['value', 'count'],
} as const satisfies Record<MeasureKind, readonly string[]>;

/**
 * The sum of a double precision quantity, exactly: each value as numeric through its text (the
 * shortest text that reads back as the same double, with PostgreSQL's default
 * extra_float_digits = 1, which the pool sets), summed in numeric. A double precision sum depends
 * on the order the rows are added in, so a bucket's mean, the live figure over the same rows and
 * a full rebuild's differed in their last bits; a plain ::numeric cast keeps only 15 digits, so a
 * single value of 1/3 came back as 0.333333333333333. Through text costs 0.1 µs a value.
 */
export function exactSumSql(quantity: string): string {
  return `sum((${quantity})::text::numeric)`;
}

/** THE formula of each kind: the value from its parts (SQL expressions). */
export function measureValueSql(m: Measure): string {
  switch (m.kind) {
    case 'count':
      return `(${m.count})`;
    case 'rate':
      return `((${m.numerator})::float8 / nullif(${m.denominator}, 0))`;
    case 'mean':
      return `((${m.sum}) / nullif(${m.count}, 0))::float8`;
    case 'percentile':
      return `(${m.value})::float8`;
  }
}

/**
 * A percentile component: percentile_cont(`fraction`) of a quantity over a group's rows. Percentiles
 * do not combine from other groups' values, only from the quantity's values themselves: the read
 * model keeps each day bucket's values of every quantity (metrics_day_values), from which the week
 * and month buckets made of those days are computed, exactly as from their rows.
 */
export interface PercentileComponent {
  /** The component's column name. */
  component: string;
  fraction: number;
  /** The name the quantity's values are kept under. */
  quantity: string;
  /** The quantity over a group's rows (SQL). */
  expression: string;
}

/**
 * THE percentile components (one aggregate per component, as a select list): each of the
 * quantity's `value` (default: its expression over the rows), counted where `filter` holds.
 */
export function percentileComponentsSql(
  percentiles: readonly PercentileComponent[],
  value: (p: PercentileComponent) => string = (p) => p.expression,
  filter?: (p: PercentileComponent) => string,
): string {
  return percentiles
    .map((p) => `percentile_cont(${p.fraction}) WITHIN GROUP (ORDER BY ${value(p)})${filter ? ` FILTER (WHERE ${filter(p)})` : ''} AS ${p.component}`)
    .join(',\n  ');
}

/**
 * percentile_cont(`fraction`) of each group's values, where they come as sorted runs: a query of
 * rows (`group`…, `vals`), each `vals` a float8[] sorted ascending, without NULLs; a group's values
 * are all its runs' together. Gives rows (`group`…, value), the same double as percentile_cont
 * over the values, without sorting them all (the runs are whole days' values, a month of them a
 * third of a million):
 * - percentile_cont takes the values at 0-based positions lo = floor(pos) and hi = ceil(pos) of
 *   the sorted n values, pos = fraction × (n − 1), and interpolates between them;
 * - both lie within [low, high]: low is the least of the runs' values at their own position
 *   floor(fraction × (len − 1)), high the greatest at ceil(fraction × (len − 1)). At most
 *   Σ floor(fraction × (len − 1)) ≤ fraction × (n − 1) values are below low, so the value at lo is
 *   not; symmetrically at most (1 − fraction) × (n − 1) values are above high, so the value at
 *   hi is not;
 * - each run is cut to its values in (low, high] by binary search (width_bucket counts a sorted
 *   array's values at or below an operand), and only those are sorted. The `below` values at or
 *   under low come before them, and those at positions from lo on equal low;
 * - the interpolation is percentile_cont's own, lo + (pos − lo) × (hi − lo) in float8 (float8_lerp).
 * Where days are alike, the cut holds a few values around the percentile instead of all of them.
 */
export function percentileOfSortedRunsSql(runs: string, group: readonly string[], fraction: number): string {
  const keys = group.join(', ');
  const f = `${fraction}::float8`;
  return `(
    WITH runs AS MATERIALIZED (${runs}),
    bounds AS (
      SELECT ${keys}, sum(cardinality(vals))::bigint AS n,
             min(vals[floor(${f} * (cardinality(vals) - 1))::int + 1]) AS low,
             max(vals[ceil(${f} * (cardinality(vals) - 1))::int + 1]) AS high
      FROM runs GROUP BY ${keys}
    ),
    cut AS (
      SELECT ${keys}, b.n, b.low, w.below, r.vals[w.below + 1 : w.up_to_high] AS slice
      FROM runs r JOIN bounds b USING (${keys})
      CROSS JOIN LATERAL (SELECT width_bucket(b.low, r.vals) AS below, width_bucket(b.high, r.vals) AS up_to_high) w
    ),
    counted AS (SELECT ${keys}, min(n) AS n, min(low) AS low, sum(below)::bigint AS below FROM cut GROUP BY ${keys}),
    inside AS (SELECT ${keys}, array_agg(x.value ORDER BY x.value) AS sorted FROM cut CROSS JOIN LATERAL unnest(cut.slice) AS x(value) GROUP BY ${keys})
    SELECT ${keys},
           CASE WHEN p.lo = p.hi THEN v.at_lo ELSE v.at_lo + ((p.pos - p.lo::float8) * (v.at_hi - v.at_lo)) END AS value
    FROM counted c LEFT JOIN inside i USING (${keys})
    CROSS JOIN LATERAL (SELECT ${f} * (c.n - 1)::float8 AS pos) q
    CROSS JOIN LATERAL (SELECT q.pos, floor(q.pos)::bigint AS lo, ceil(q.pos)::bigint AS hi) p
    CROSS JOIN LATERAL (
      SELECT CASE WHEN p.lo < c.below THEN c.low ELSE i.sorted[(p.lo - c.below + 1)::int] END AS at_lo,
             CASE WHEN p.hi < c.below THEN c.low ELSE i.sorted[(p.hi - c.below + 1)::int] END AS at_hi
    ) v
  )`;
}

/** The components a value came from, as a jsonb object keyed by the kind's part names. */
export function measureComponentsJsonSql(m: Measure): string {
  const parts = MEASURE_PARTS[m.kind].map((part) => `'${part}', ${(m as Record<string, string>)[part]}`);
  return `jsonb_build_object(${parts.join(', ')})`;
}

/**
 * The same measure over several stored groups combined: the additive components of the rows at
 * `alias` summed (an aggregate expression, for use with GROUP BY). The rows carry them as plain
 * columns derived from `value_json` (migration 1764000650000): `value_numerator` (a rate's
 * numerator, a mean's sum, a count's count) and `value_denominator` (a rate's denominator, the
 * count of the others). Percentiles cannot be combined and give null.
 */
export function combinedMeasureValueSql(kind: MeasureKind, alias: string): string {
  const numerator = `sum(${alias}.value_numerator)`;
  const denominator = `sum(${alias}.value_denominator)`;
  switch (kind) {
    case 'count':
      return measureValueSql({ kind, count: `${numerator}::float8` });
    case 'rate':
      return measureValueSql({ kind, numerator, denominator });
    case 'mean':
      return measureValueSql({ kind, sum: numerator, count: denominator });
    case 'percentile':
      return 'NULL::float8';
  }
}

/** The count a combined value rests on: the denominator of a rate, the count of the others. */
export function combinedSampleSizeSql(alias: string): string {
  return `coalesce(sum(${alias}.value_denominator), 0)::bigint`;
}
