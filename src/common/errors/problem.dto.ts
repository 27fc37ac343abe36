import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ERROR_CODES } from './error-catalogue.js';

export class FieldErrorDto {
  @ApiProperty({ example: 'events[3].occurredAt' }) field!: string;
  @ApiProperty({ example: 'occurredAt must be an ISO-8601 date-time' }) message!: string;
}

/** RFC 9457 problem details, as every error of this API is answered. */
export class ProblemDto {
  @ApiProperty({ example: 'https://trailmark.dev/problems/validation-failed' }) type!: string;
  @ApiProperty({ example: 'The request is not valid' }) title!: string;
  @ApiProperty({ example: 400 }) status!: number;
  @ApiProperty({ example: 'name: name must be a string' }) detail!: string;
  @ApiProperty({ enum: ERROR_CODES, enumName: 'ErrorCode', description: 'Stable machine-readable code' })
  code!: string;
  @ApiProperty({ example: '3f1c1a55-8d7e-4a57-9f0a-0d1f2c3b4a5e' }) requestId!: string;
  @ApiPropertyOptional({ example: '/v1/projects' }) instance?: string;
  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'One entry per bad field (validation only)' })
  errors?: FieldErrorDto[];
}
