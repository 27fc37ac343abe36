import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDateString, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { PageQueryDto } from '../../common/pagination/cursor.js';
import { KPI_ID_PATTERN } from '../kpi.constants.js';
import { COMPLETE_STEP_RULES } from '../onboarding.rules.js';
import { KPI_EVENT_STATUSES, type KpiEventStatus } from './complete-step.dto.js';

export class KpiEventQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'kpi.onboarding.step_1_completed' })
  @IsOptional()
  @Matches(KPI_ID_PATTERN, { message: 'kpiId must look like kpi.onboarding.step_1_completed' })
  @MaxLength(200)
  kpiId?: string;

  @ApiPropertyOptional({ example: 'user-42' })
  @IsOptional()
  @IsString()
  @MaxLength(COMPLETE_STEP_RULES.userId.maxLength)
  userId?: string;

  @ApiPropertyOptional({ enum: KPI_EVENT_STATUSES, enumName: 'KpiEventStatus' })
  @IsOptional()
  @IsIn(KPI_EVENT_STATUSES)
  status?: KpiEventStatus;

  @ApiPropertyOptional({ format: 'date-time', description: 'occurredAt at or after' })
  @IsOptional()
  @IsDateString({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'occurredAt before' })
  @IsOptional()
  @IsDateString({ strict: true })
  to?: string;
}

export class KpiEventMetadataDto {
  @ApiProperty({ type: 'integer', example: 1 }) step!: number;
  @ApiProperty({ example: 'web-onboarding' }) source!: string;
}

export class KpiEventDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: String, nullable: true, example: 'kpi.onboarding.step_1_completed' }) kpiId!: string | null;
  @ApiProperty({ example: 'user-42' }) userId!: string;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: '{ step, source } plus the metadata sent with the completion',
    example: { step: 1, source: 'web-onboarding' },
  })
  metadata!: Record<string, unknown>;
  @ApiProperty({ enum: KPI_EVENT_STATUSES, enumName: 'KpiEventStatus' }) status!: KpiEventStatus;
  @ApiProperty({ type: String, nullable: true, example: null }) failureReason!: string | null;
  @ApiProperty({ type: 'integer', description: 'Attempts to record it so far' }) attempts!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) recordedAt!: string | null;
}

export class KpiEventPageDto {
  @ApiProperty({ type: [KpiEventDto] }) data!: KpiEventDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export const KPI_GRAINS = ['day', 'week'] as const;
export type KpiGrain = (typeof KPI_GRAINS)[number];

export class KpiStatsQueryDto {
  @ApiProperty({ format: 'date-time', description: 'Start (inclusive); events before it are not counted, even in its bucket' })
  @IsDateString({ strict: true })
  from!: string;

  @ApiProperty({ format: 'date-time', description: 'End (exclusive)' })
  @IsDateString({ strict: true })
  to!: string;

  @ApiPropertyOptional({ enum: KPI_GRAINS, default: 'day', description: "Buckets in the project's time zone; weeks are ISO weeks (Monday)" })
  @IsOptional()
  @IsIn(KPI_GRAINS)
  grain: KpiGrain = 'day';
}

export class KpiStatsPointDto {
  @ApiProperty({ example: 'kpi.onboarding.step_1_completed' }) kpiId!: string;
  @ApiProperty({ format: 'date', example: '2025-11-24', description: "First day of the bucket in the project's time zone" })
  bucket!: string;
  @ApiProperty({ type: 'integer' }) count!: number;
}

export class KpiStatsDto {
  @ApiProperty({ example: 'Europe/Berlin' }) timezone!: string;
  @ApiProperty({ enum: KPI_GRAINS }) grain!: KpiGrain;
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ type: [KpiStatsPointDto], description: "Recorded events per KPI per bucket, zero-filled for the project's KPIs" })
  data!: KpiStatsPointDto[];
}
