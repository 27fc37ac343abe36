import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsISO8601, IsOptional, IsString, MaxLength } from 'class-validator';
import { PageQueryDto } from '../../common/pagination/cursor.js';
import { LABEL_KEYS } from '../labels.js';
import { METRIC_TYPES, type MetricType } from '../metric-types.js';

export const MAX_METRICS_PER_BATCH = 1000;

class LabelsDto {
  @ApiPropertyOptional({ maxLength: 128, example: 'summariser', description: 'Who did the work' }) actor?: string;
  @ApiPropertyOptional({ maxLength: 128, example: 'gpt-4o-mini' }) model?: string;
  @ApiPropertyOptional({ maxLength: 128, example: 'session-metrics' }) queue?: string;
  @ApiPropertyOptional({ maxLength: 128, example: 'high' }) bucket?: string;
  @ApiPropertyOptional({ maxLength: 128, example: 'TIMEOUT', description: 'An error code' }) code?: string;
}

/** One metric of a batch; checked item by item (see the rejection codes), not by the request pipe. */
export class OperationalMetricInputDto {
  @ApiProperty({ enum: METRIC_TYPES }) type!: MetricType;
  @ApiProperty({
    example: 1530,
    description:
      'Finite. queue_depth and token_usage: integers 0..2^53 − 1; processing_time: milliseconds 0..2^53 − 1; error: integer 1..2^53 − 1; confidence: 0..1',
  })
  value!: number;
  @ApiPropertyOptional({ type: LabelsDto, description: `Only the keys ${LABEL_KEYS.join(', ')}; values 1–128 characters` })
  labels?: LabelsDto;
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Default now; at most 5 minutes ahead and not older than the raw retention window',
  })
  recordedAt?: string;
}

export class RecordOperationalMetricsDto {
  @ApiProperty({ type: [OperationalMetricInputDto], minItems: 1, maxItems: MAX_METRICS_PER_BATCH })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_METRICS_PER_BATCH)
  metrics!: unknown[];
}

export class RejectedMetricDto {
  @ApiProperty({ example: 3, description: 'Position of the metric in the batch' }) index!: number;
  @ApiProperty({
    example: 'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE',
    enum: [
      'OPERATIONAL_METRIC_INVALID',
      'OPERATIONAL_METRIC_TYPE_UNKNOWN',
      'OPERATIONAL_METRIC_VALUE_OUT_OF_RANGE',
      'OPERATIONAL_METRIC_LABELS_INVALID',
      'OPERATIONAL_METRIC_TIME_IN_FUTURE',
      'OPERATIONAL_METRIC_TIME_TOO_OLD',
    ],
  })
  code!: string;
  @ApiProperty({ example: 'a confidence value must be from 0 to 1 (got 1.2)' }) message!: string;
}

export class RecordOperationalMetricsResultDto {
  @ApiProperty({ example: 499, description: 'Metrics stored' }) accepted!: number;
  @ApiProperty({ type: [RejectedMetricDto] }) rejected!: RejectedMetricDto[];
}

export class OperationalMetricFilterDto {
  @ApiPropertyOptional({ enum: METRIC_TYPES })
  @IsOptional()
  @IsIn(METRIC_TYPES)
  type?: MetricType;

  @ApiPropertyOptional({ format: 'date-time', description: 'Inclusive' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Exclusive' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ example: 'actor:ingest|code:TIMEOUT', description: 'Exactly this label set ("" for none)' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  labelsKey?: string;
}

export class OperationalMetricsQueryDto extends IntersectionType(PageQueryDto, OperationalMetricFilterDto) {}

export class OperationalMetricsDailyQueryDto extends OperationalMetricFilterDto {}

export class OperationalMetricDto {
  @ApiProperty({ example: '1842' }) id!: string;
  @ApiProperty({ enum: METRIC_TYPES }) type!: string;
  @ApiProperty() value!: number;
  @ApiProperty({ type: LabelsDto }) labels!: Record<string, string>;
  @ApiProperty({ example: 'actor:ingest|code:TIMEOUT' }) labelsKey!: string;
  @ApiProperty({ format: 'date-time' }) recordedAt!: string;
  @ApiProperty({ format: 'date-time' }) receivedAt!: string;
}

export class OperationalMetricPageDto {
  @ApiProperty({ type: [OperationalMetricDto] }) data!: OperationalMetricDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class OperationalMetricDayDto {
  @ApiProperty({ example: '2026-02-06', description: 'UTC day' }) day!: string;
  @ApiProperty({ enum: METRIC_TYPES }) type!: string;
  @ApiProperty({ example: 'actor:ingest' }) labelsKey!: string;
  @ApiProperty({ type: LabelsDto }) labels!: Record<string, string>;
  @ApiProperty({ description: 'Samples' }) count!: number;
  @ApiProperty() sum!: number;
  @ApiProperty() min!: number;
  @ApiProperty() max!: number;
  @ApiProperty() avg!: number;
  @ApiProperty({ description: '95th percentile, linear interpolation between the closest ranks (percentile_cont)' })
  p95!: number;
}

export class OperationalMetricDaysDto {
  @ApiProperty({ type: [OperationalMetricDayDto] }) data!: OperationalMetricDayDto[];
}
