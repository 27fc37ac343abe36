import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsISO8601, IsOptional, Max, Min } from 'class-validator';
import { PageQueryDto } from '../../common/pagination/cursor.js';
import { queryBoolean } from '../../common/http/validation.js';

/** `from` / `to`: sessions whose startedAt is in [from, to). */
export class RangeQueryDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'Inclusive lower bound on startedAt' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Exclusive upper bound on startedAt' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class SessionsQueryDto extends IntersectionType(PageQueryDto, RangeQueryDto) {
  @ApiPropertyOptional({ enum: ['active', 'completed'] })
  @IsOptional()
  @IsIn(['active', 'completed'])
  status?: 'active' | 'completed';

  @ApiPropertyOptional({ type: Boolean })
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  converted?: boolean;

  @ApiPropertyOptional({ type: Boolean })
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  bounced?: boolean;
}

export class JourneyQueryDto extends RangeQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit: number = 20;
}

export class SessionDto {
  @ApiProperty() sessionId!: string;
  @ApiProperty({ type: String, nullable: true, description: 'The last user id seen in the session' }) userId!: string | null;
  @ApiProperty({ enum: ['active', 'completed'] }) status!: 'active' | 'completed';
  @ApiProperty({ format: 'date-time', description: 'First event' }) startedAt!: string;
  @ApiProperty({ format: 'date-time', description: 'Last event' }) endedAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'First session_end, else last event + timeout' })
  completedAt!: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Last − first event; null for a single-event session' })
  durationSeconds!: number | null;
  @ApiProperty({ description: 'Pageviews' }) pageCount!: number;
  @ApiProperty() eventCount!: number;
  @ApiProperty({ type: String, nullable: true }) entryPage!: string | null;
  @ApiProperty({ type: String, nullable: true }) exitPage!: string | null;
  @ApiProperty({ type: [String], description: 'Pageview paths in time order' }) journeyPath!: string[];
  @ApiProperty({ description: 'pageCount = 1' }) bounced!: boolean;
  @ApiProperty({ description: 'Has a conversion event' }) converted!: boolean;
}

export class SessionPageDto {
  @ApiProperty({ type: [SessionDto] }) data!: SessionDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class SessionStatsDto {
  @ApiProperty() sessions!: number;
  @ApiProperty() completedSessions!: number;
  @ApiProperty({ type: Number, nullable: true, description: 'bounced / sessions with at least one pageview' }) bounceRate!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'converted / sessions' }) conversionRate!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Over sessions with a duration' }) avgDurationSeconds!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Over sessions with a duration' }) medianDurationSeconds!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'pageviews / sessions' }) pagesPerSession!: number | null;
}

export class JourneyPathDto {
  @ApiProperty({ type: [String] }) path!: string[];
  @ApiProperty() sessions!: number;
  @ApiProperty({ description: 'sessions / sessions with at least one pageview in the range' }) share!: number;
}

export class JourneyPathListDto {
  @ApiProperty({ type: [JourneyPathDto] }) data!: JourneyPathDto[];
}

export class JourneyTransitionDto {
  @ApiProperty({ type: String, nullable: true, description: 'null: the journey starts here' }) from!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'null: the journey ends here' }) to!: string | null;
  @ApiProperty({ description: 'Sessions that made this step at least once' }) sessions!: number;
}

export class JourneyTransitionListDto {
  @ApiProperty({ type: [JourneyTransitionDto] }) data!: JourneyTransitionDto[];
}
