import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { IsIanaTimeZone } from '../../common/http/validation.js';

export class CreateProjectDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'Acme shop' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiPropertyOptional({ default: 'UTC', example: 'Europe/Berlin', description: 'IANA time zone: buckets days, weeks and months' })
  @IsOptional()
  @IsIanaTimeZone()
  timezone?: string;

  @ApiPropertyOptional({ default: 30, minimum: 1, maximum: 1440, description: 'Inactivity after which a session is completed' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1440)
  sessionTimeoutMinutes?: number;
}

export class ProjectDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ example: 'UTC' }) timezone!: string;
  @ApiProperty({ example: 30 }) sessionTimeoutMinutes!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class ProjectPageDto {
  @ApiProperty({ type: [ProjectDto] }) data!: ProjectDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
