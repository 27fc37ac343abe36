import { Inject, Injectable, type Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Clock } from '../common/clock/clock.js';
import { APP_CONFIG } from '../common/config/config.module.js';
import type { AppConfig } from '../common/config/config.js';
import { EventPartitionsService } from '../events/event-partitions.service.js';
import { SessionCompletionPublisher } from './session-completion.publisher.js';
import { SessionsRepository, type BatchResult, type PassPart } from './sessions.repository.js';

export interface AggregationCounts {
  eventsRead: number;
  sessionsCreated: number;
  sessionsUpdated: number;
  sessionsCompleted: number;
  sessionsTimedOut: number;
  batches: number;
  lastReceivedAt: string | null;
  [key: string]: number | string | null;
}

/** A run's part for its progress log: the full pass (its size unknown up front) or the queue. */
interface Phase {
  name: 'full pass' | 'queue';
  done: number;
  total: number | null;
  started: number;
}

/**
 * Session aggregation. A run with a watermark (the snapshot of the last collection) collects the
 * sessions touched by new events, and the active ones whose timeout has passed, into the rebuild
 * queue, then rebuilds them in batches. The first run, or a `full` one, instead goes through every
 * session in key order, in batches read straight off the events index. Either way each batch is
 * one set-based statement in its own transaction, and the newly completed sessions are handed on
 * after it commits.
 */
@Injectable()
export class SessionAggregationService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly partitions: EventPartitionsService,
    private readonly completions: SessionCompletionPublisher,
    private readonly clock: Clock,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async run(options: { full?: boolean; logger?: Logger } = {}): Promise<AggregationCounts> {
    const now = this.clock.now();
    const batchSize = this.config.sessions.aggregationBatchSize;
    const counts: AggregationCounts = {
      eventsRead: 0,
      sessionsCreated: 0,
      sessionsUpdated: 0,
      sessionsCompleted: 0,
      sessionsTimedOut: 0,
      batches: 0,
      lastReceivedAt: null,
    };
    const progress = async (batch: BatchResult, phase: Phase) => {
      counts.batches++;
      counts.sessionsCreated += batch.created;
      counts.sessionsUpdated += batch.updated;
      counts.sessionsCompleted += batch.completed.length;
      await this.completions.publish(batch.completed);
      phase.done += batch.taken;
      const seconds = Math.max((Date.now() - phase.started) / 1000, 0.001);
      options.logger?.log(
        { phase: phase.name, done: phase.done, total: phase.total, sessionsPerSecond: Math.round(phase.done / seconds) },
        'sessions rebuilt',
      );
    };

    await this.partitions.ensureAhead();
    // A `full` run begins a pass of its own (a release may have changed how sessions are built);
    // any other run resumes one left unfinished.
    const state = await this.sessions.state();
    const unfinished = options.full === true ? null : state.unfinishedPass;
    if (unfinished !== null || options.full === true || state.watermark === null) {
      await this.rebuildAll(now, batchSize, counts, progress, unfinished, options.logger);
    } else {
      const collected = await this.sessions.collect();
      counts.eventsRead = collected.eventsRead;
      counts.lastReceivedAt = collected.lastReceivedAt ? new Date(collected.lastReceivedAt).toISOString() : null;
    }
    counts.sessionsTimedOut = await this.sessions.queueTimedOut(now);
    const queue: Phase = { name: 'queue', done: 0, total: await this.sessions.queuedCount(), started: Date.now() };
    for (;;) {
      const batch = await this.db.transaction((tx) => this.sessions.rebuildQueued(tx, now, batchSize));
      if (batch.taken === 0) break;
      await progress(batch, queue);
    }
    return counts;
  }

  /**
   * The full pass: every session rebuilt from all its events, in key order. The watermark is a
   * snapshot taken before the first batch, saved after the last: every event it can see is read by
   * the batch of its session, and events it cannot see are new to the next run, which rebuilds
   * their sessions. The sessions are cut into key ranges (parts) of about as many events each, one
   * per worker (SESSION_AGGREGATION_WORKERS), which the workers rebuild side by side, each on its
   * own connection: a batch is CPU work in PostgreSQL, so two workers use both cores of a small
   * machine. The pass records its snapshot and parts when it begins and each part's last key with
   * each batch, so a pass cut off (a crash, a deploy) is resumed by the next run after the last
   * batch of each part that committed, unless that run asks for a full pass, which begins its own
   * (and the old pass's batches, should its run still be going, then stop).
   */
  private async rebuildAll(
    now: Date,
    batchSize: number,
    counts: AggregationCounts,
    progress: (batch: BatchResult, phase: Phase) => Promise<void>,
    unfinished: { snapshot: string; parts: PassPart[] } | null,
    logger?: Logger,
  ): Promise<void> {
    const pass: Phase = { name: 'full pass', done: 0, total: null, started: Date.now() };
    const workers = this.config.sessions.aggregationWorkers;
    let snapshot: string;
    let parts: PassPart[];
    if (unfinished) {
      ({ snapshot, parts } = unfinished);
      logger?.log({ parts: parts.map(({ part, after }) => ({ part, after })) }, 'resuming the full pass a previous run did not finish');
    } else {
      snapshot = await this.sessions.currentSnapshot();
      // One part per worker: more parts, for a worker that finishes early to take another, made
      // every part end in a partial batch and a 10,000-session pass 40% slower.
      parts = await this.sessions.beginFullPass(snapshot, await this.sessions.partBoundaries(workers));
    }
    const pending = [...parts];
    let superseded = false;
    let failure: unknown = null;
    const work = async (): Promise<void> => {
      for (let part = pending.shift(); part && failure === null && !superseded; part = pending.shift()) {
        const partNumber = part.part;
        for (let finished = false; !finished && failure === null;) {
          const batch = await this.db.transaction((tx) => this.sessions.rebuildRange(tx, now, partNumber, batchSize, snapshot));
          if (batch === null) {
            superseded = true;
            return;
          }
          counts.eventsRead += batch.eventsRead;
          if (batch.lastReceivedAt && (counts.lastReceivedAt === null || batch.lastReceivedAt.toISOString() > counts.lastReceivedAt)) {
            counts.lastReceivedAt = batch.lastReceivedAt.toISOString();
          }
          if (batch.taken > 0) await progress(batch, pass);
          finished = batch.finished;
        }
      }
    };
    // The first failure stops the other workers at their next batch; it is the run's error.
    await Promise.all(
      Array.from({ length: Math.min(workers, parts.length) }, () =>
        work().catch((error: unknown) => {
          failure ??= error;
        }),
      ),
    );
    if (failure !== null) throw failure;
    if (superseded) {
      logger?.warn({ snapshot }, 'the pass is no longer the recorded one (a newer full pass began, or another run finished it); this run stopped');
      return;
    }
    await this.sessions.finishFullPass(snapshot);
  }
}
