import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The Prometheus registry of one app instance (not prom-client's global one, so several apps in
 * one process, as in the tests, keep separate figures). Features add their own series here.
 */
@Injectable()
export class MetricsRegistry {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'trailmark_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly jobRunDuration = new Histogram({
    name: 'trailmark_job_run_duration_seconds',
    help: 'Duration of scheduled and manual job runs by job and outcome',
    labelNames: ['job', 'status'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900],
    registers: [this.registry],
  });

  readonly queueJobDuration = new Histogram({
    name: 'trailmark_queue_job_duration_seconds',
    help: 'Duration of queued (pg-boss) work items by queue and outcome',
    labelNames: ['queue', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });

  readonly errors = new Counter({
    name: 'trailmark_errors_total',
    help: 'Errors by where they happened (actor) and their code',
    labelNames: ['actor', 'code'] as const,
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'trailmark_queue_depth',
    help: 'Jobs waiting in each durable queue, as last sampled',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  readonly kpiEvents = new Counter({
    name: 'trailmark_kpi_events_total',
    help: 'Attempts to record leading-KPI analytics events, by outcome (recorded, failed) and trigger (request, retry)',
    labelNames: ['outcome', 'trigger'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'trailmark_' });
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
