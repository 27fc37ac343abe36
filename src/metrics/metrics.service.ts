import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock/clock.js';
import { AppError } from '../common/errors/app-error.js';
import { decodeCursor, toPage } from '../common/pagination/cursor.js';
import { requireInstant } from '../common/time/instant.js';
import { projectNotFound, ProjectsService } from '../projects/projects.service.js';
import type {
  BreakdownDto,
  BreakdownQueryDto,
  DrilldownPageDto,
  DrilldownQueryDto,
  MetricCatalogueDto,
  MetricRangeQueryDto,
  MetricsSummaryDto,
  TrendDto,
  TrendQueryDto,
} from './dto/metrics.dto.js';
import {
  emptyValue,
  findMetric,
  FINE_GRAINS,
  MAX_TREND_BUCKETS,
  METRIC_CATALOGUE,
  METRICS_RETENTION,
  SHARE_OF_BUCKET_DIMENSIONS,
  type MetricDefinition,
  type TimeGrain,
} from './metric-catalogue.constants.js';
import { MetricsReadModelRepository } from './metrics-read-model.repository.js';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** The shortest a bucket of each grain can be (DST days have 23 hours); bounds the bucket count before any SQL. */
const MIN_BUCKET_MS: Record<TimeGrain, number> = { hour: HOUR_MS, day: 23 * HOUR_MS, week: 7 * DAY_MS - HOUR_MS, month: 28 * DAY_MS - HOUR_MS };

/** The Metrics API: catalogue, summary, trend, breakdown and drilldown, all read from the read model. */
@Injectable()
export class MetricsService {
  constructor(
    private readonly repository: MetricsReadModelRepository,
    private readonly projects: ProjectsService,
    private readonly clock: Clock,
  ) {}

  catalogue(): MetricCatalogueDto {
    return {
      data: METRIC_CATALOGUE.map((m) => ({
        key: m.key,
        title: m.title,
        unit: m.unit,
        source: m.source,
        computation: m.computation,
        kind: m.measure.kind,
        grains: [...m.grains],
        breakdownDimensions: [...m.breakdownDimensions],
        drilldownEntityTypes: [...m.drilldownEntityTypes],
      })),
    };
  }

  async summary(projectId: string, atText?: string): Promise<MetricsSummaryDto> {
    await this.projects.get(projectId);
    const at = atText ? requireInstant(atText, 'at') : this.clock.now();
    const row = await this.repository.findSummary(projectId, at);
    if (!row) throw new AppError('METRICS_SUMMARY_NOT_FOUND', `No metrics summary captured at or before ${at.toISOString()} yet.`);
    return { capturedAt: row.capturedAt.toISOString(), version: row.version, scope: row.scope, payload: row.payload };
  }

  /**
   * Every bucket of [from, to), gaps filled. For `hour` and `day`, a range whose first bucket
   * starts before the fine-grain retention cutoff comes as `week` points up to the first week
   * starting after the cutoff (retention keeps only those there), and in its own grain from there.
   */
  async trend(projectId: string, metricKey: string, query: TrendQueryDto): Promise<TrendDto> {
    const metric = this.metric(metricKey);
    allowed('grain', query.grain, metric.grains, metric);
    const { from, to } = this.range(query);
    const grain = query.grain;
    // The limit counts buckets of the requested grain over [from, to), whether or not part of the
    // range is answered in weeks: the same range and grain are always allowed or always refused.
    const estimate = Math.ceil((to.getTime() - from.getTime()) / MIN_BUCKET_MS[grain]) + 1;
    let buckets = estimate;
    if (estimate > MAX_TREND_BUCKETS && estimate <= 2 * MAX_TREND_BUCKETS) {
      buckets = await this.repository.countBuckets(projectId, grain, from, to);
    }
    if (buckets > MAX_TREND_BUCKETS) {
      throw AppError.validation([
        { field: 'from', message: `the range holds more than ${MAX_TREND_BUCKETS} ${grain} buckets; narrow from/to or use a coarser grain` },
      ]);
    }
    const weeksBefore = FINE_GRAINS.includes(grain) ? new Date(this.clock.now().getTime() - METRICS_RETENTION.fineTrendDays * DAY_MS) : null;
    const trend = await this.repository.trend(projectId, metric.key, grain, { from, to, weeksBefore, emptyValue: emptyValue(metric.measure.kind) });
    if (trend.timezone === null) throw projectNotFound(projectId);
    return {
      metricKey: metric.key,
      grain,
      timezone: trend.timezone,
      computedAt: trend.computedAt?.toISOString() ?? null,
      points: trend.points.map((p) => ({ bucket: new Date(p.bucket).toISOString(), grain: p.grain, value: p.value })),
    };
  }

  /** The project's timezone is read by the breakdown statement itself: one round trip fewer per request. */
  async breakdown(projectId: string, metricKey: string, query: BreakdownQueryDto): Promise<BreakdownDto> {
    const metric = this.metric(metricKey);
    allowed('dimension', query.dimension, metric.breakdownDimensions, metric);
    const { from, to } = this.range(query);
    const rows = await this.repository.breakdown(projectId, {
      metricKey: metric.key,
      kind: metric.measure.kind,
      dimension: query.dimension,
      shareOfBucket: SHARE_OF_BUCKET_DIMENSIONS.includes(query.dimension),
      from,
      to,
      limit: query.limit,
    });
    return { metricKey: metric.key, dimension: query.dimension, data: rows };
  }

  async drilldown(projectId: string, metricKey: string, query: DrilldownQueryDto): Promise<DrilldownPageDto> {
    const project = await this.projects.get(projectId);
    const metric = this.metric(metricKey);
    allowed('entityType', query.entityType, metric.drilldownEntityTypes, metric);
    const { from, to } = this.range(query);
    const key = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows = await this.repository.drilldown(
      projectId,
      {
        metricKey: metric.drilldownKey,
        entityType: query.entityType,
        onlyWithMetrics: metric.source === 'session_metrics',
        // completed_sessions counts only completed sessions, so only they are behind it
        onlyCompleted: metric.key === 'completed_sessions',
        timezone: project.timezone,
        from,
        to,
        limit: query.limit + 1,
      },
      key ? { bucket: String(key[0]), id: String(key[1]) } : undefined,
    );
    return toPage(
      rows,
      query.limit,
      (r) => ({
        entityType: r.entityType,
        entityId: r.entityId,
        referenceId: r.referenceId,
        bucket: r.bucket?.toISOString() ?? null,
        payload: r.payload,
      }),
      (r) => [r.bucket!.toISOString(), r.id],
    );
  }

  private metric(key: string): MetricDefinition {
    const metric = findMetric(key);
    if (!metric) throw new AppError('METRIC_NOT_FOUND', `No metric "${key}" in the catalogue (GET …/metrics lists them).`);
    return metric;
  }

  /** `to` defaults to now, `from` to 30 days before `to`; from must be before to. */
  private range(query: MetricRangeQueryDto): { from: Date; to: Date } {
    const to = query.to ? requireInstant(query.to, 'to') : this.clock.now();
    const from = query.from ? requireInstant(query.from, 'from') : new Date(to.getTime() - 30 * DAY_MS);
    if (!(from < to)) throw AppError.validation([{ field: 'to', message: 'to must be after from' }]);
    return { from, to };
  }
}

/** 400 naming the field and listing what the metric supports. */
function allowed(field: string, value: string, supported: readonly string[], metric: MetricDefinition): void {
  if (supported.includes(value)) return;
  const list = supported.length ? supported.join(', ') : '(none)';
  throw AppError.validation([{ field, message: `${field} "${value}" is not supported by metric ${metric.key}; allowed values: ${list}` }]);
}
