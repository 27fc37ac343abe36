/**
 * The collector: records operational metrics through the caller's transaction. It never opens,
 * commits or rolls back one, so a metric lives or dies with the work it describes.
 */
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Clock } from '../common/clock/clock.js';
import { SYSTEM_PROJECT_ID } from '../projects/projects.repository.js';
import { canonicalLabels, type Labels } from './labels.js';
import { valueProblem, type MetricType } from './metric-types.js';
import { OperationalMetricsRepository } from './operational-metrics.repository.js';

export interface RecordOptions {
  /** Default: the system project (the service's own metrics). */
  projectId?: string;
  /** Default: the clock's now. */
  recordedAt?: Date;
}

@Injectable()
export class OperationalMetricsCollector {
  constructor(
    private readonly metrics: OperationalMetricsRepository,
    private readonly clock: Clock,
  ) {}

  /** Items waiting in a queue, e.g. labels `{ queue: 'session-metrics' }`. */
  recordQueueDepth(tx: EntityManager, depth: number, labels: Labels = {}, options?: RecordOptions): Promise<void> {
    return this.record(tx, 'queue_depth', depth, labels, options);
  }

  /** Milliseconds one unit of work took, e.g. labels `{ actor: 'session-aggregation' }`. */
  recordProcessingTime(tx: EntityManager, milliseconds: number, labels: Labels = {}, options?: RecordOptions): Promise<void> {
    return this.record(tx, 'processing_time', milliseconds, labels, options);
  }

  /** One error (or `count` of them), labelled with where (`actor`) and what (`code`). */
  recordError(tx: EntityManager, labels: Labels, options?: RecordOptions & { count?: number }): Promise<void> {
    return this.record(tx, 'error', options?.count ?? 1, labels, options);
  }

  /** Tokens one model call used, e.g. labels `{ actor: 'summariser', model: 'gpt-4o-mini' }`. */
  recordTokenUsage(tx: EntityManager, tokens: number, labels: Labels = {}, options?: RecordOptions): Promise<void> {
    return this.record(tx, 'token_usage', tokens, labels, options);
  }

  /** The confidence (0..1) of one answer, e.g. labels `{ actor: 'matcher', bucket: 'high' }`. */
  recordConfidence(tx: EntityManager, confidence: number, labels: Labels = {}, options?: RecordOptions): Promise<void> {
    return this.record(tx, 'confidence', confidence, labels, options);
  }

  private async record(tx: EntityManager, type: MetricType, value: number, labels: Labels, options: RecordOptions = {}): Promise<void> {
    // A bad metric here is a programming error in the service, not a client's: fail loudly.
    const problem = valueProblem(type, value);
    if (problem) throw new Error(`operational metric ${type}: ${problem}`);
    const canonical = canonicalLabels(labels);
    if (!canonical.ok) throw new Error(`operational metric ${type}: ${canonical.message}`);
    await this.metrics.insert(tx, options.projectId ?? SYSTEM_PROJECT_ID, [
      { type, value, ...canonical.value, recordedAt: options.recordedAt ?? this.clock.now() },
    ]);
  }
}
