import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString, Length, Matches, MaxLength, ValidateNested } from 'class-validator';
import { ValidatesWith } from '../../common/http/validation.js';
import { isStoredPathPattern } from '../../events/event-path.js';
import { EVENT_TYPES, type EventType } from '../../events/event-types.js';

const IsStoredPathPattern = () =>
  ValidatesWith(
    'isStoredPathPattern',
    (value) => typeof value !== 'string' || isStoredPathPattern(value),
    (property) => `${property} must be written as paths are stored: percent-encoded (%20, not a space), with / not \\, and without . or .. segments`,
  );

export class FunnelMatcherDto {
  @ApiPropertyOptional({ enum: EVENT_TYPES, default: 'pageview' })
  @IsOptional()
  @IsIn(EVENT_TYPES)
  eventType?: EventType;

  @ApiPropertyOptional({
    maxLength: 2048,
    example: '/products/*',
    description:
      'Exact path; `*` matches any run of characters. Written as event paths are stored: from the root (`/` or `*` first), ' +
      'percent-encoded (`/caf%C3%A9`, `/a%20b`), without query, fragment, trailing slash (except `/` itself) or `.`/`..` segments',
  })
  @IsOptional()
  @IsString()
  @Length(1, 2048)
  // events' paths are stored normalised (normalisePath), so any other pattern could never match
  @Matches(/^(?:\/|\*|[/*][^?#]*[^/?#])$/, {
    message: 'path must start with / or *, and hold no query, fragment or trailing slash (events are matched by their stored path)',
  })
  @IsStoredPathPattern()
  path?: string;

  @ApiPropertyOptional({ maxLength: 128, description: 'Matches the event name exactly' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  eventName?: string;
}

export class FunnelStepDto extends FunnelMatcherDto {
  @ApiProperty({ minLength: 1, maxLength: 100, example: 'Product' })
  @IsString()
  @Length(1, 100)
  name!: string;

  @ApiPropertyOptional({
    type: [FunnelMatcherDto],
    maxItems: 10,
    description: 'Further matchers: an event matching any of them reaches this step too',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  @Type(() => FunnelMatcherDto)
  alternatives?: FunnelMatcherDto[];
}

export class CreateFunnelDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'Signup' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiProperty({ type: [FunnelStepDto], minItems: 2, maxItems: 20 })
  @IsArray()
  @ArrayMinSize(2)
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  @Type(() => FunnelStepDto)
  steps!: FunnelStepDto[];
}

export class FunnelDto {
  @ApiProperty({ description: '`default` for the built-in funnel, else a UUID' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: [FunnelStepDto] }) steps!: FunnelStepDto[];
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'null for the built-in funnel' })
  createdAt!: string | null;
}

export class FunnelListDto {
  @ApiProperty({ type: [FunnelDto] }) data!: FunnelDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class FunnelStageDto {
  @ApiProperty({ description: 'The step name' }) stage!: string;
  @ApiProperty({ description: 'Sessions that reached this stage (matched stages 1..N in time order)' }) visitors!: number;
  @ApiProperty({ type: Number, nullable: true, description: '(visitors N − visitors N+1) / visitors N; null for the last stage or 0 visitors' })
  dropOffRate!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'visitors N / visitors at stage 1; null when stage 1 has none' })
  conversionFromStart!: number | null;
}

export class FunnelReportDto {
  @ApiProperty() funnelId!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) from!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) to!: string | null;
  @ApiProperty({ type: [FunnelStageDto] }) stages!: FunnelStageDto[];
}
