import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { PageQueryDto } from '../../common/pagination/cursor.js';
import { RangeQueryDto } from '../../sessions/dto/session.dto.js';

export class SessionMetricsDto {
  @ApiProperty({ example: 's-8f2a' }) sessionId!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'First draft_created − session start, in ms; null without a draft', example: 42000 })
  timeToFirstDraftMs!: number | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    minimum: 0,
    maximum: 1,
    description: 'Started steps also completed / started steps (distinct names); null if none started',
  })
  completionRate!: number | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    minimum: 0,
    description: 'draft_confirmed count / draft_created count; null without a draft; not capped at 1',
  })
  confirmationRate!: number | null;
  @ApiProperty({ minimum: 0, description: 'signal events per minute of duration (duration floored at 1 minute)' })
  signalDensity!: number;
  @ApiProperty({ description: 'Not converted and at least one started step not completed' }) droppedOff!: boolean;
  @ApiProperty({ type: String, nullable: true, description: 'The open step started last, when droppedOff' }) dropOffStep!: string | null;
  @ApiProperty({ format: 'date-time' }) computedAt!: string;
}

export class PipelineRunDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() sessionId!: string;
  @ApiProperty({ enum: ['succeeded', 'failed'] }) status!: string;
  @ApiProperty({ type: String, nullable: true, example: 'SESSION_NOT_COMPLETED' }) errorCode!: string | null;
  @ApiProperty({ type: String, nullable: true }) errorMessage!: string | null;
  @ApiProperty({ description: '1 for the first attempt of a queued job, 2 and 3 for its retries', example: 1 }) attempt!: number;
  @ApiProperty({ type: String, nullable: true, description: 'Queue job id; null for a recompute request' }) jobId!: string | null;
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty({ format: 'date-time' }) finishedAt!: string;
  @ApiProperty() durationMs!: number;
}

export class PipelineRunPageDto {
  @ApiProperty({ type: [PipelineRunDto] }) data!: PipelineRunDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class PipelineRunsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ['succeeded', 'failed'] })
  @IsOptional()
  @IsIn(['succeeded', 'failed'])
  status?: 'succeeded' | 'failed';

  @ApiPropertyOptional({ minLength: 1, maxLength: 128 })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  sessionId?: string;
}

/** Sessions started in [from, to); either bound may be left out, as on GET …/stats/sessions. */
export class SessionMetricsStatsQueryDto extends RangeQueryDto {}

export class TimeToFirstDraftStatsDto {
  @ApiProperty({ description: 'Sessions with a draft' }) sessions!: number;
  @ApiProperty({ type: Number, nullable: true }) avgMs!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'percentile_cont(0.5)' }) p50Ms!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'percentile_cont(0.9)' }) p90Ms!: number | null;
}

export class SessionMetricsStatsDto {
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'The lower bound asked for, null when none' }) from!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'The upper bound asked for, null when none' }) to!: string | null;
  @ApiProperty({ description: 'Completed sessions with metrics started in [from, to)' }) sessions!: number;
  @ApiProperty({ type: TimeToFirstDraftStatsDto }) timeToFirstDraft!: TimeToFirstDraftStatsDto;
  @ApiProperty({ type: Number, nullable: true, description: 'Mean over sessions that started a step' }) completionRateMean!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Mean over sessions with a draft' }) confirmationRateMean!: number | null;
  @ApiProperty({ type: Number, nullable: true }) signalDensityMean!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Dropped-off sessions / sessions' }) dropOffRate!: number | null;
}
