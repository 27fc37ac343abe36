/** Operational metrics of a project (or of the service itself): recording from clients, and reads. */
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Clock } from '../common/clock/clock.js';
import { APP_CONFIG } from '../common/config/config.module.js';
import type { AppConfig } from '../common/config/config.js';
import { decodeCursor, toPage, type Page } from '../common/pagination/cursor.js';
import type {
  OperationalMetricDayDto,
  OperationalMetricDto,
  OperationalMetricFilterDto,
  OperationalMetricsQueryDto,
  RecordOperationalMetricsResultDto,
  RejectedMetricDto,
} from './dto/operational-metrics.dto.js';
import { rawRetentionCutoff } from './metric-types.js';
import { OperationalMetricsRepository, type MetricFilter, type RawMetric, type RawMetricInput } from './operational-metrics.repository.js';
import { verifyMetric } from './operational-metrics.verifier.js';
import { toDateRange } from '../common/time/date-range.js';

function toMetricDto(row: RawMetric): OperationalMetricDto {
  return {
    id: row.id,
    type: row.type,
    value: row.value,
    labels: row.labels as Record<string, string>,
    labelsKey: row.labelsKey,
    recordedAt: row.recordedAt.toISOString(),
    receivedAt: row.receivedAt.toISOString(),
  };
}

function toFilter(query: OperationalMetricFilterDto): MetricFilter {
  return { type: query.type, ...toDateRange(query.from, query.to), labelsKey: query.labelsKey };
}

@Injectable()
export class OperationalMetricsService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly metrics: OperationalMetricsRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Stores the valid metrics of a client batch in one statement; lists the others by index. */
  async record(projectId: string, items: unknown[]): Promise<RecordOperationalMetricsResultDto> {
    const now = this.clock.now();
    const cutoff = rawRetentionCutoff(now, this.config.operationalMetrics.rawRetentionDays);
    const rows: RawMetricInput[] = [];
    const rejected: RejectedMetricDto[] = [];
    items.forEach((item, index) => {
      const verified = verifyMetric(item, now, cutoff);
      if (verified.ok) rows.push(verified.row);
      else rejected.push({ index, code: verified.code, message: verified.message });
    });
    const accepted = await this.metrics.insert(this.db, projectId, rows);
    return { accepted, rejected };
  }

  async list(projectId: string, query: OperationalMetricsQueryDto): Promise<Page<OperationalMetricDto>> {
    const key = decodeCursor(query.cursor, ['timestamp', 'integer']);
    const before = key ? { recordedAt: String(key[0]), id: String(key[1]) } : undefined;
    const rows = await this.metrics.list(this.db, projectId, toFilter(query), query.limit + 1, before);
    return toPage(rows, query.limit, toMetricDto, (row) => [row.recordedAt.toISOString(), row.id]);
  }

  async daily(projectId: string, query: OperationalMetricFilterDto): Promise<{ data: OperationalMetricDayDto[] }> {
    const rows = await this.metrics.listDaily(this.db, projectId, toFilter(query));
    return { data: rows.map((row) => ({ ...row, labels: row.labels as Record<string, string> })) };
  }
}
