import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMinSize, IsArray } from 'class-validator';
import { EVENT_TYPES } from '../event-types.js';

/** One tracking event as clients send it. Checked per event by events.verifier.ts (see there why). */
export class TrackingEventDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Client id of the event, the dedup key; generated when absent' })
  eventId?: string;

  @ApiProperty({ minLength: 1, maxLength: 128 })
  sessionId!: string;

  @ApiPropertyOptional({ maxLength: 128 })
  userId?: string;

  @ApiProperty({ enum: EVENT_TYPES })
  type!: string;

  @ApiPropertyOptional({ maxLength: 128, description: 'Required for custom, step_started and step_completed (the step name)' })
  name?: string;

  @ApiPropertyOptional({ maxLength: 2048, description: 'Absolute URL or path; required for pageview' })
  url?: string;

  @ApiPropertyOptional({ maxLength: 2048 })
  referrer?: string;

  @ApiProperty({ format: 'date-time', description: 'Client time; at most 5 minutes in the future' })
  occurredAt!: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'JSON object of at most 16 KiB' })
  properties?: Record<string, unknown>;
}

export class IngestEventsDto {
  // Items are not validated here: a bad event is rejected alone, listed in the answer.
  @ApiProperty({ type: [TrackingEventDto], minItems: 1, maxItems: 1000, description: 'At most INGEST_MAX_EVENTS (default 1000)' })
  @IsArray()
  @ArrayMinSize(1)
  events!: unknown[];
}

export class EventProblemDto {
  @ApiProperty({ example: 'occurredAt', description: 'The field (`event` for the event as a whole)' }) field!: string;
  @ApiProperty({ example: 'occurredAt must be an ISO-8601 date and time' }) message!: string;
}

export class RejectedEventDto {
  @ApiProperty({ description: 'Index of the event in the batch' }) index!: number;
  @ApiProperty({
    example: 'EVENT_INVALID',
    enum: ['EVENT_INVALID', 'EVENT_IN_FUTURE'],
    description: 'EVENT_IN_FUTURE when that is the only problem',
  })
  code!: string;
  @ApiProperty({ description: 'Every problem of the event, separated by "; "' }) message!: string;
  @ApiProperty({ type: [EventProblemDto], description: 'Each problem with the field it concerns' }) errors!: EventProblemDto[];
}

export class IngestResultDto {
  @ApiProperty({ description: 'Events stored now' }) accepted!: number;
  @ApiProperty({ description: 'Events whose eventId was already stored for the project (stored once)' }) duplicates!: number;
  @ApiProperty({ type: [RejectedEventDto] }) rejected!: RejectedEventDto[];
}
