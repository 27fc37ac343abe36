import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { execute, queryOne, queryRows } from '../common/database/sql.js';
import { toLikePattern, type FunnelStep } from './funnel.constants.js';

export interface FunnelRow {
  id: string;
  name: string;
  steps: FunnelStep[];
  createdAt: Date;
}

const COLUMNS = `id, name, steps, created_at AS "createdAt"`;

/** All SQL of funnels: custom definitions and the report. */
@Injectable()
export class FunnelsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async insert(projectId: string, name: string, steps: FunnelStep[]): Promise<FunnelRow> {
    const row = await queryOne<FunnelRow>(this.db, `INSERT INTO funnels (project_id, name, steps) VALUES ($1, $2, $3::jsonb) RETURNING ${COLUMNS}`, [
      projectId,
      name,
      JSON.stringify(steps),
    ]);
    return row!;
  }

  /** Custom funnels, oldest first; `after` = (created_at, id) of the previous page's last one. */
  list(projectId: string, limit: number, after?: { createdAt: string; id: string }): Promise<FunnelRow[]> {
    return queryRows<FunnelRow>(
      this.db,
      `SELECT ${COLUMNS} FROM funnels
       WHERE project_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
       ORDER BY created_at, id LIMIT $4`,
      [projectId, after?.createdAt ?? null, after?.id ?? null, limit],
    );
  }

  find(projectId: string, id: string): Promise<FunnelRow | undefined> {
    return queryOne<FunnelRow>(this.db, `SELECT ${COLUMNS} FROM funnels WHERE project_id = $1 AND id = $2`, [projectId, id]);
  }

  async delete(projectId: string, id: string): Promise<boolean> {
    return (await execute(this.db, `DELETE FROM funnels WHERE project_id = $1 AND id = $2`, [projectId, id])) > 0;
  }

  /**
   * Visitors per stage among sessions started in [from, to). A session reaches stage 1 at its
   * earliest matching event and stage N+1 at its earliest matching event strictly after the one
   * that reached stage N, in (occurred_at, seq) order — taking the earliest match at each stage
   * is what finds an in-order match whenever one exists. Only the events the session's aggregation
   * read count (those between its first and last event), as for every other figure of a session.
   * Returns visitors for stages 1..n.
   */
  async stageVisitors(projectId: string, steps: FunnelStep[], from?: Date, to?: Date): Promise<number[]> {
    // One row per matcher; a step with alternatives has several rows with the same n.
    const stepRows = steps.flatMap((s, i) =>
      [s, ...(s.alternatives ?? [])].map((m) => ({
        n: i + 1,
        event_type: m.eventType,
        path_like: m.path === undefined ? null : toLikePattern(m.path),
        event_name: m.eventName ?? null,
      })),
    );
    const rows = await queryRows<{ stage: number; visitors: number }>(
      this.db,
      `WITH RECURSIVE
       steps AS (
         SELECT * FROM jsonb_to_recordset($4::jsonb) AS st(n int, event_type text, path_like text, event_name text)
       ),
       ranged AS (
         SELECT session_id, started_at, ended_at FROM sessions
         WHERE project_id = $1 AND ($2::timestamptz IS NULL OR started_at >= $2) AND ($3::timestamptz IS NULL OR started_at < $3)
       ),
       -- A session's events lie within its first and last event as of its aggregation: bounding
       -- each lookup by them lets the executor skip the monthly partitions outside the session
       -- (an index probe per partition otherwise, for every session and stage).
       reached (session_id, started_at, ended_at, stage, occurred_at, seq) AS (
         SELECT r.session_id, r.started_at, r.ended_at, 1, m.occurred_at, m.seq
         FROM ranged r
         CROSS JOIN LATERAL (
           SELECT e.occurred_at, e.seq FROM tracking_events e, steps st
           WHERE st.n = 1 AND e.project_id = $1 AND e.session_id = r.session_id
             AND e.occurred_at >= r.started_at AND e.occurred_at <= r.ended_at
             AND e.type = st.event_type
             AND (st.path_like IS NULL OR e.path LIKE st.path_like)
             AND (st.event_name IS NULL OR e.name = st.event_name)
           ORDER BY e.occurred_at, e.seq LIMIT 1
         ) m
         UNION ALL
         SELECT r.session_id, r.started_at, r.ended_at, r.stage + 1, m.occurred_at, m.seq
         FROM reached r
         CROSS JOIN LATERAL (
           SELECT e.occurred_at, e.seq FROM tracking_events e, steps st
           WHERE st.n = r.stage + 1 AND e.project_id = $1 AND e.session_id = r.session_id
             AND (e.occurred_at, e.seq) > (r.occurred_at, r.seq) AND e.occurred_at <= r.ended_at
             AND e.type = st.event_type
             AND (st.path_like IS NULL OR e.path LIKE st.path_like)
             AND (st.event_name IS NULL OR e.name = st.event_name)
           ORDER BY e.occurred_at, e.seq LIMIT 1
         ) m
       )
       SELECT stage, count(*)::int AS visitors FROM reached GROUP BY stage`,
      [projectId, from ?? null, to ?? null, JSON.stringify(stepRows)],
    );
    const visitors = steps.map(() => 0);
    for (const row of rows) visitors[row.stage - 1] = row.visitors;
    return visitors;
  }
}
