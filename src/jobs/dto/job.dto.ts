import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';
import { PageQueryDto } from '../../common/pagination/cursor.js';
import { queryBoolean } from '../../common/http/validation.js';

export class JobRunDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() jobName!: string;
  @ApiProperty({ enum: ['schedule', 'manual', 'chained'], description: 'chained: started by the success of the job named in params.after' })
  trigger!: string;
  @ApiProperty({ enum: ['queued', 'running', 'succeeded', 'failed'] }) status!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) scheduledFor!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) params!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'What the run did, e.g. eventsRead' })
  counts!: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) startedAt!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) finishedAt!: string | null;
  @ApiProperty({ nullable: true, type: Number }) durationMs!: number | null;
}

export class JobDto {
  @ApiProperty({ example: 'session-aggregation' }) name!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ nullable: true, type: String, example: '0 */4 * * *', description: 'Cron expression (UTC)' })
  schedule!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) nextRunAt!: string | null;
  @ApiProperty({ type: JobRunDto, nullable: true }) lastRun!: JobRunDto | null;
}

export class JobListDto {
  @ApiProperty({ type: [JobDto] }) data!: JobDto[];
}

export class JobRunPageDto {
  @ApiProperty({ type: [JobRunDto] }) data!: JobRunDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class StartedJobRunDto {
  @ApiProperty({ format: 'uuid' }) runId!: string;
  @ApiProperty({ enum: ['queued', 'running'] }) status!: string;
}

export class RunJobQueryDto {
  @ApiPropertyOptional({ description: 'Answer when the run has ended (200 with the run)' })
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  wait?: boolean;
}

export class RunJobBodyDto {
  @ApiPropertyOptional({ description: 'Rebuild everything instead of only what changed (jobs that support it)' })
  @IsOptional()
  @IsBoolean()
  full?: boolean;
}

export class JobRunsQueryDto extends PageQueryDto {}
