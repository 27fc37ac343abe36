import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { execute, queryRows, type Db } from '../common/database/sql.js';
import type { NewTrackingEvent } from './events.verifier.js';

/** A UTC month, the unit of tracking_events partitions: `{ year: 2025, month: 1 }` is January. */
export interface PartitionMonth {
  year: number;
  month: number;
}

export function partitionName({ year, month }: PartitionMonth): string {
  return `tracking_events_p${String(year).padStart(4, '0')}${String(month).padStart(2, '0')}`;
}

function monthStart({ year, month }: PartitionMonth): string {
  const next = new Date(Date.UTC(2000, 0, 1));
  next.setUTCFullYear(year, month - 1, 1);
  return next.toISOString();
}

/** All SQL of event ingestion and partition upkeep. */
@Injectable()
export class EventsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Stores a batch in one transaction: client event ids are claimed in tracking_event_ids first
   * (ON CONFLICT DO NOTHING RETURNING says which are new), then only the new events are inserted,
   * in batch order so `seq` follows it. Returns how many events were stored.
   */
  async insert(projectId: string, events: NewTrackingEvent[], receivedAt: Date): Promise<number> {
    return this.db.transaction(async (tx) => {
      const clientIds = events.filter((e) => e.clientEventId).map((e) => e.eventId);
      let fresh = events;
      if (clientIds.length) {
        const claimed = await queryRows<{ event_id: string }>(
          tx,
          `INSERT INTO tracking_event_ids (project_id, event_id)
           SELECT $1, id FROM unnest($2::uuid[]) AS id
           ON CONFLICT DO NOTHING
           RETURNING event_id`,
          [projectId, clientIds],
        );
        const claimedIds = new Set(claimed.map((row) => row.event_id));
        fresh = events.filter((e) => !e.clientEventId || claimedIds.has(e.eventId));
      }
      if (!fresh.length) return 0;
      return execute(
        tx,
        `INSERT INTO tracking_events
           (project_id, event_id, session_id, user_id, type, name, url, path, referrer, occurred_at, received_at, properties)
         SELECT $1, e.event_id, e.session_id, e.user_id, e.type, e.name, e.url, e.path, e.referrer, e.occurred_at, $2, e.properties::jsonb
         FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[])
           WITH ORDINALITY AS e(event_id, session_id, user_id, type, name, url, path, referrer, occurred_at, properties, ord)
         ORDER BY e.ord`,
        [
          projectId,
          receivedAt,
          fresh.map((e) => e.eventId),
          fresh.map((e) => e.sessionId),
          fresh.map((e) => e.userId),
          fresh.map((e) => e.type),
          fresh.map((e) => e.name),
          fresh.map((e) => e.url),
          fresh.map((e) => e.path),
          fresh.map((e) => e.referrer),
          fresh.map((e) => e.occurredAt.toISOString()),
          fresh.map((e) => e.properties),
        ],
      );
    });
  }

  /** The month partitions that exist (the DEFAULT partition aside). */
  async listPartitions(): Promise<string[]> {
    const rows = await queryRows<{ name: string }>(
      this.db,
      `SELECT c.relname AS name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'tracking_events'::regclass AND c.relname <> 'tracking_events_default'`,
    );
    return rows.map((r) => r.name);
  }

  /**
   * Creates the partition of a month if missing. Serialised by an advisory lock so two requests
   * creating the same month do not race; its own short transaction, so the parent's lock is not
   * held across an ingest. The name is built from digits only (DDL cannot take parameters).
   */
  async createPartition(month: PartitionMonth): Promise<void> {
    const next: PartitionMonth = month.month === 12 ? { year: month.year + 1, month: 1 } : { year: month.year, month: month.month + 1 };
    await this.db.transaction(async (tx: Db) => {
      await execute(tx, `SELECT pg_advisory_xact_lock(hashtext('tracking_events partitions'))`);
      await execute(
        tx,
        `CREATE TABLE IF NOT EXISTS ${partitionName(month)} PARTITION OF tracking_events
         FOR VALUES FROM ('${monthStart(month)}') TO ('${monthStart(next)}')`,
      );
    });
  }
}
