import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { execute, queryOne, queryRows, type Db } from '../common/database/sql.js';
import type { OnboardingStepDefinition } from './kpi.constants.js';
import type { KpiEventStatus } from './dto/complete-step.dto.js';

export interface Completion {
  userId: string;
  step: number;
  completedAt: Date;
  kpiEventId: string;
}

export interface OutboxEvent {
  projectId: string;
  eventId: string;
  userId: string;
  step: number;
  kpiId: string | null;
  occurredAt: Date;
  metadata: Record<string, unknown>;
  status: KpiEventStatus;
  failureReason: string | null;
  attempts: number;
  recordedAt: Date | null;
}

export interface RecordedKpiEvent {
  id: string;
  kpiId: string;
  userId: string;
  occurredAt: Date;
  metadata: Record<string, unknown>;
}

export interface IdempotencyRecord {
  fingerprint: string;
  response: unknown;
  inserted: boolean;
}

export interface KpiEventFilter {
  kpiId?: string;
  userId?: string;
  status?: KpiEventStatus;
  from?: Date;
  to?: Date;
  after?: { occurredAt: string; eventId: string };
}

const OUTBOX_COLUMNS = `
  project_id AS "projectId", event_id AS "eventId", user_id AS "userId", step, kpi_id AS "kpiId",
  occurred_at AS "occurredAt", metadata, status, failure_reason AS "failureReason", attempts,
  recorded_at AS "recordedAt"`;

/** Every query of onboarding: steps, completions, the KPI event outbox, kpi_events, idempotency keys. */
@Injectable()
export class OnboardingRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => work(tx));
  }

  projectSteps(projectId: string, db: Db = this.db): Promise<OnboardingStepDefinition[]> {
    return queryRows(db, `SELECT step, name, kpi_id AS "kpiId" FROM onboarding_steps WHERE project_id = $1 ORDER BY step`, [projectId]);
  }

  /**
   * Claims an Idempotency-Key for this transaction. The no-op update makes a concurrent request
   * with the same key wait for ours to commit and then see the stored answer.
   */
  async claimIdempotencyKey(tx: Db, projectId: string, key: string, fingerprint: string): Promise<IdempotencyRecord> {
    const row = await queryOne<IdempotencyRecord>(
      tx,
      `INSERT INTO idempotency_keys (project_id, key, fingerprint) VALUES ($1, $2, $3)
       ON CONFLICT (project_id, key) DO UPDATE SET key = EXCLUDED.key
       RETURNING fingerprint, response, (xmax = 0) AS inserted`,
      [projectId, key, fingerprint],
    );
    return row!;
  }

  async storeIdempotentResponse(tx: Db, projectId: string, key: string, response: unknown): Promise<void> {
    await execute(tx, `UPDATE idempotency_keys SET response = $3 WHERE project_id = $1 AND key = $2`, [projectId, key, JSON.stringify(response)]);
  }

  completedSteps(tx: Db, projectId: string, userId: string): Promise<Completion[]> {
    return queryRows(
      tx,
      `SELECT user_id AS "userId", step, completed_at AS "completedAt", kpi_event_id AS "kpiEventId"
       FROM onboarding_completions WHERE project_id = $1 AND user_id = $2 ORDER BY step`,
      [projectId, userId],
    );
  }

  /** Inserts the completion unless one exists; undefined when it did (a concurrent twin waits for ours). */
  insertCompletion(
    tx: Db,
    c: { projectId: string; userId: string; step: number; source: string | null; metadata: Record<string, unknown>; completedAt: Date },
  ): Promise<Completion | undefined> {
    return queryOne(
      tx,
      `INSERT INTO onboarding_completions (project_id, user_id, step, source, metadata, completed_at, kpi_event_id)
       VALUES ($1, $2, $3, $4, $5, $6, gen_random_uuid())
       ON CONFLICT (project_id, user_id, step) DO NOTHING
       RETURNING user_id AS "userId", step, completed_at AS "completedAt", kpi_event_id AS "kpiEventId"`,
      [c.projectId, c.userId, c.step, c.source, JSON.stringify(c.metadata), c.completedAt],
    );
  }

  findCompletion(tx: Db, projectId: string, userId: string, step: number): Promise<Completion | undefined> {
    return queryOne(
      tx,
      `SELECT user_id AS "userId", step, completed_at AS "completedAt", kpi_event_id AS "kpiEventId"
       FROM onboarding_completions WHERE project_id = $1 AND user_id = $2 AND step = $3`,
      [projectId, userId, step],
    );
  }

  async insertOutbox(tx: Db, e: Pick<OutboxEvent, 'projectId' | 'eventId' | 'userId' | 'step' | 'kpiId' | 'occurredAt' | 'metadata'>): Promise<void> {
    await execute(
      tx,
      `INSERT INTO kpi_event_outbox (project_id, event_id, user_id, step, kpi_id, occurred_at, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [e.projectId, e.eventId, e.userId, e.step, e.kpiId, e.occurredAt, JSON.stringify(e.metadata)],
    );
  }

  findOutbox(db: Db, projectId: string, eventId: string): Promise<OutboxEvent | undefined> {
    return queryOne(db, `SELECT ${OUTBOX_COLUMNS} FROM kpi_event_outbox WHERE project_id = $1 AND event_id = $2`, [projectId, eventId]);
  }

  userOutbox(projectId: string, userId: string): Promise<OutboxEvent[]> {
    return queryRows(this.db, `SELECT ${OUTBOX_COLUMNS} FROM kpi_event_outbox WHERE project_id = $1 AND user_id = $2`, [projectId, userId]);
  }

  userCompletions(projectId: string, userId: string): Promise<Completion[]> {
    return this.completedSteps(this.db, projectId, userId);
  }

  /** Writes the analytics event; a second write of the same id changes nothing. */
  async insertKpiEvent(tx: Db, projectId: string, event: RecordedKpiEvent, recordedAt: Date): Promise<void> {
    await execute(
      tx,
      `INSERT INTO kpi_events (project_id, id, kpi_id, user_id, occurred_at, metadata, recorded_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (project_id, id) DO NOTHING`,
      [projectId, event.id, event.kpiId, event.userId, event.occurredAt, JSON.stringify(event.metadata), recordedAt],
    );
  }

  async markRecorded(tx: Db, projectId: string, eventId: string, kpiId: string, at: Date): Promise<void> {
    await execute(
      tx,
      `UPDATE kpi_event_outbox
       SET status = 'recorded', kpi_id = $3, failure_reason = NULL, attempts = attempts + 1, last_attempt_at = $4, recorded_at = $4
       WHERE project_id = $1 AND event_id = $2`,
      [projectId, eventId, kpiId, at],
    );
  }

  async markFailed(tx: Db, projectId: string, eventId: string, reason: string, at: Date): Promise<void> {
    await execute(
      tx,
      `UPDATE kpi_event_outbox
       SET status = 'failed', failure_reason = $3, attempts = attempts + 1, last_attempt_at = $4
       WHERE project_id = $1 AND event_id = $2`,
      [projectId, eventId, reason.slice(0, 1000), at],
    );
  }

  /**
   * Locks up to `limit` outbox rows not yet recorded (failed, or pending for longer than the
   * grace period), skipping rows another worker holds.
   */
  claimUnrecorded(tx: Db, q: { pendingBefore: Date; exclude: string[]; limit: number }): Promise<OutboxEvent[]> {
    return queryRows(
      tx,
      `SELECT ${OUTBOX_COLUMNS} FROM kpi_event_outbox
       WHERE (status = 'failed' OR (status = 'pending' AND occurred_at < $1))
         AND NOT (event_id = ANY ($2::uuid[]))
       ORDER BY last_attempt_at NULLS FIRST, occurred_at
       LIMIT $3
       FOR UPDATE SKIP LOCKED`,
      [q.pendingBefore, q.exclude, q.limit],
    );
  }

  /**
   * Runs `work` inside a savepoint of the caller's transaction: if it fails, only its own writes
   * are undone (the completion and the outbox row stay) and the error is rethrown.
   */
  async withSavepoint<T>(tx: Db, work: () => Promise<T>): Promise<T> {
    await execute(tx, 'SAVEPOINT kpi_event_write');
    try {
      const result = await work();
      await execute(tx, 'RELEASE SAVEPOINT kpi_event_write');
      return result;
    } catch (error) {
      await execute(tx, 'ROLLBACK TO SAVEPOINT kpi_event_write');
      throw error;
    }
  }

  /** Newest first by occurred_at, then event id. */
  listOutbox(projectId: string, f: KpiEventFilter, limit: number): Promise<OutboxEvent[]> {
    return queryRows(
      this.db,
      `SELECT ${OUTBOX_COLUMNS} FROM kpi_event_outbox
       WHERE project_id = $1
         AND ($2::text IS NULL OR kpi_id = $2)
         AND ($3::text IS NULL OR user_id = $3)
         AND ($4::text IS NULL OR status = $4)
         AND ($5::timestamptz IS NULL OR occurred_at >= $5)
         AND ($6::timestamptz IS NULL OR occurred_at < $6)
         AND ($7::timestamptz IS NULL OR (occurred_at, event_id) < ($7::timestamptz, $8::uuid))
       ORDER BY occurred_at DESC, event_id DESC
       LIMIT $9`,
      [
        projectId,
        f.kpiId ?? null,
        f.userId ?? null,
        f.status ?? null,
        f.from ?? null,
        f.to ?? null,
        f.after?.occurredAt ?? null,
        f.after?.eventId ?? null,
        limit,
      ],
    );
  }

  /**
   * Recorded events per KPI per bucket of the project's local calendar (ISO weeks start on
   * Monday), zero-filled for `kpiIds`. Buckets are those holding any instant of [from, to).
   */
  kpiCounts(
    projectId: string,
    q: { from: string; to: string; grain: 'day' | 'week'; timezone: string; kpiIds: string[] },
  ): Promise<{ kpiId: string; bucket: string; count: number }[]> {
    return queryRows(
      this.db,
      `WITH buckets AS (
         SELECT generate_series(
                  date_trunc($4, $2::timestamptz AT TIME ZONE $5),
                  date_trunc($4, ($3::timestamptz - interval '1 millisecond') AT TIME ZONE $5),
                  ('1 ' || $4)::interval
                ) AS bucket
       ),
       counts AS (
         SELECT kpi_id, date_trunc($4, occurred_at AT TIME ZONE $5) AS bucket, count(*)::int AS count
         FROM kpi_events
         WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
         GROUP BY 1, 2
       ),
       kpis AS (
         SELECT unnest($6::text[]) AS kpi_id
         UNION
         SELECT kpi_id FROM counts
       )
       SELECT k.kpi_id AS "kpiId", to_char(b.bucket, 'YYYY-MM-DD') AS bucket, coalesce(c.count, 0) AS count
       FROM kpis k CROSS JOIN buckets b
       LEFT JOIN counts c ON c.kpi_id = k.kpi_id AND c.bucket = b.bucket
       ORDER BY k.kpi_id, b.bucket`,
      [projectId, q.from, q.to, q.grain, q.timezone, q.kpiIds],
    );
  }
}
