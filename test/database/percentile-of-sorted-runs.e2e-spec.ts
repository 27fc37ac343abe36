import fc from 'fast-check';
import pg from 'pg';
import { percentileOfSortedRunsSql } from '../../src/common/database/measures.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/**
 * percentileOfSortedRunsSql must give, for every group, the very double percentile_cont gives over
 * the same values (the oracle: PostgreSQL's own aggregate over the runs unnested). Values are drawn
 * with many ties (a few integers), as fractions (1/3, 0.1: interpolation in the last bits), and
 * spread wide; runs of every length from one value on, split anywhere.
 */
describe('percentileOfSortedRunsSql: percentile_cont over sorted runs, without sorting them all', () => {
  let database: TestDatabase;
  let db: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase({ empty: true });
    db = new pg.Client({ connectionString: database.url });
    await db.connect();
    await db.query(`CREATE TABLE runs (grp int NOT NULL, vals float8[] NOT NULL)`);
  });
  afterAll(async () => {
    await db.end();
    await database.drop();
  });

  const value = fc.oneof(
    fc.integer({ min: 0, max: 4 }),
    fc.integer({ min: -30, max: 30 }).map((n) => n / 3),
    fc.integer({ min: 0, max: 50 }).map((n) => n * 0.1),
    // none so small that the interpolation underflows a double: PostgreSQL raises an error there, its percentile_cont does not
    fc.double({ min: -1e12, max: 1e12, noNaN: true, noDefaultInfinity: true }).filter((x) => x === 0 || Math.abs(x) >= 1e-100),
  );
  /** A group: its values, cut into runs after the given indexes. */
  const group = fc.record({ values: fc.array(value, { minLength: 1, maxLength: 60 }), cuts: fc.array(fc.nat(), { maxLength: 8 }) });
  const fraction = fc.oneof(
    fc.constantFrom(0, 0.5, 0.9, 1),
    fc.double({ min: 0, max: 1, noNaN: true }).filter((x) => x === 0 || x >= 1e-100),
  );

  async function load(groups: { values: number[]; cuts: number[] }[]): Promise<void> {
    await db.query(`TRUNCATE runs`);
    for (const [grp, g] of groups.entries()) {
      const cuts = [...new Set(g.cuts.map((c) => c % g.values.length))].filter((c) => c > 0).sort((a, b) => a - b);
      const bounds = [0, ...cuts, g.values.length];
      for (let i = 0; i + 1 < bounds.length; i++) {
        const run = g.values.slice(bounds[i], bounds[i + 1]).sort((a, b) => a - b);
        await db.query(`INSERT INTO runs VALUES ($1, $2::float8[])`, [grp, run]);
      }
    }
  }

  async function both(f: number): Promise<{ grp: number; ours: number | null; oracle: number | null }[]> {
    const { rows } = await db.query(
      `SELECT o.grp, p.value AS ours, o.value AS oracle
       FROM (SELECT r.grp, percentile_cont(${f}::float8) WITHIN GROUP (ORDER BY x) AS value FROM runs r, unnest(r.vals) AS x GROUP BY r.grp) o
       LEFT JOIN ${percentileOfSortedRunsSql('SELECT grp, vals FROM runs', ['grp'], f)} p USING (grp)
       ORDER BY o.grp`,
    );
    return rows;
  }

  it('equals percentile_cont for every group, fraction and split into runs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(group, { minLength: 1, maxLength: 4 }), fraction, async (groups, f) => {
        await load(groups);
        const rows = await both(f);
        expect(rows).toHaveLength(groups.length);
        for (const r of rows) expect([r.grp, r.ours]).toEqual([r.grp, r.oracle]);
      }),
      { numRuns: 150 },
    );
  });

  it('takes a median between two runs, and one inside a run where the others lie all below or all above it', async () => {
    // hand-computed: {1, 2, 3, 10} → (2 + 3) / 2; {1, 2} {3} {4, 5, 6, 7} → 4; one run {5} → 5
    await load([
      { values: [1, 10, 2, 3], cuts: [2] },
      { values: [1, 2, 3, 4, 5, 6, 7], cuts: [2, 3] },
      { values: [5], cuts: [] },
    ]);
    expect((await both(0.5)).map((r) => r.ours)).toEqual([2.5, 4, 5]);
    // p90 of {1, 2, 3, 10}: pos 2.7 → 3 + 0.7 × 7 = 7.9 (as percentile_cont: 3 + (2.7 − 2) × 7 in doubles)
    expect((await both(0.9))[0].ours).toBe(3 + (0.9 * 3 - 2) * 7);
  });
});
