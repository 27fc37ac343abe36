import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { PageQueryDto } from '../../common/pagination/cursor.js';
import { BREAKDOWN_DIMENSIONS, DRILLDOWN_ENTITY_TYPES, TIME_GRAINS, type TimeGrain } from '../metric-catalogue.constants.js';

export class MetricDefinitionDto {
  @ApiProperty({ example: 'bounce_rate' }) key!: string;
  @ApiProperty() title!: string;
  @ApiProperty({ enum: ['count', 'ratio', 'seconds', 'milliseconds', 'signals_per_minute', 'pages'] }) unit!: string;
  @ApiProperty({ enum: ['sessions', 'session_metrics', 'kpi_events'] }) source!: string;
  @ApiProperty({ description: 'How the value is computed' }) computation!: string;
  @ApiProperty({
    enum: ['count', 'rate', 'mean', 'percentile'],
    description: 'How values of buckets combine: counts, rates and means from their components; percentiles do not',
  })
  kind!: string;
  @ApiProperty({ enum: TIME_GRAINS, isArray: true }) grains!: string[];
  @ApiProperty({ enum: BREAKDOWN_DIMENSIONS, isArray: true }) breakdownDimensions!: string[];
  @ApiProperty({ enum: DRILLDOWN_ENTITY_TYPES, isArray: true }) drilldownEntityTypes!: string[];
}

export class MetricCatalogueDto {
  @ApiProperty({ type: MetricDefinitionDto, isArray: true }) data!: MetricDefinitionDto[];
}

export class SummaryQueryDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'The latest snapshot at or before this instant (default now)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  at?: string;
}

export class MetricsSummaryDto {
  @ApiProperty({ format: 'date-time' }) capturedAt!: string;
  @ApiProperty({ example: '1.0' }) version!: string;
  @ApiProperty({ type: Object, nullable: true, description: 'Always null for now (no phase/milestone filters)' }) scope!: unknown;
  @ApiProperty({
    type: Object,
    description: 'windows["24h"|"7d"|"30d"]: { from, to, previousFrom, previousTo, metrics: { <key>: { value, previous, change, changeRatio } } }',
  })
  payload!: Record<string, unknown>;
}

/** `from` / `to` of a read-model range. */
export class MetricRangeQueryDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'Inclusive start (default: to − 30 days)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Exclusive end (default: now)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class TrendQueryDto extends MetricRangeQueryDto {
  @ApiPropertyOptional({ enum: TIME_GRAINS, default: 'day' })
  @IsOptional()
  @IsIn(TIME_GRAINS)
  grain: TimeGrain = 'day';
}

export class TrendPointDto {
  @ApiProperty({ format: 'date-time', description: "The bucket's start instant" }) bucket!: string;
  @ApiProperty({ enum: TIME_GRAINS, description: 'week where the requested fine grain was downsampled by retention' }) grain!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'Gaps: 0 for counts, null for rates, means and percentiles' })
  value!: number | null;
}

export class TrendDto {
  @ApiProperty() metricKey!: string;
  @ApiProperty({ enum: TIME_GRAINS }) grain!: string;
  @ApiProperty({ example: 'Europe/Berlin' }) timezone!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the newest point was computed' }) computedAt!: string | null;
  @ApiProperty({ type: TrendPointDto, isArray: true }) points!: TrendPointDto[];
}

export class BreakdownQueryDto extends MetricRangeQueryDto {
  @ApiProperty({ enum: BREAKDOWN_DIMENSIONS, description: 'One of the metric’s breakdownDimensions' })
  @IsString()
  @MaxLength(64)
  dimension!: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit: number = 100;
}

export class BreakdownItemDto {
  @ApiProperty({ type: String, nullable: true }) dimensionValue!: string | null;
  @ApiProperty({ type: Number, nullable: true }) value!: number | null;
  @ApiProperty({ description: 'The count the value rests on (the denominator of a rate, the count of a count)' }) sampleSize!: number;
}

export class BreakdownDto {
  @ApiProperty() metricKey!: string;
  @ApiProperty({ enum: BREAKDOWN_DIMENSIONS }) dimension!: string;
  @ApiProperty({ type: BreakdownItemDto, isArray: true }) data!: BreakdownItemDto[];
}

export class DrilldownQueryDto extends IntersectionType(PageQueryDto, MetricRangeQueryDto) {
  @ApiProperty({ enum: DRILLDOWN_ENTITY_TYPES, description: 'One of the metric’s drilldownEntityTypes' })
  @IsString()
  @MaxLength(64)
  entityType!: string;
}

export class DrilldownItemDto {
  @ApiProperty({ enum: DRILLDOWN_ENTITY_TYPES }) entityType!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'The KPI event id' }) entityId!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The session id' }) referenceId!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Start of the day bucket' }) bucket!: string | null;
  @ApiProperty({ type: Object }) payload!: Record<string, unknown>;
}

export class DrilldownPageDto {
  @ApiProperty({ type: DrilldownItemDto, isArray: true }) data!: DrilldownItemDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
