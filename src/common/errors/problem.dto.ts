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

  // Extension members (RFC 9457 §3.2), each sent only with the codes named: the `extensions` of
  // the AppErrors thrown with those codes. (The `projectId` and `invalidSessionIds` of
  // SESSION_ID_INVALID, and KPI_EVENT_INVALID's `problems`, arise only in jobs, never in an answer.)
  @ApiPropertyOptional({
    type: 'integer',
    isArray: true,
    example: [1, 2],
    description: '`ONBOARDING_STEP_NOT_ELIGIBLE`: the earlier steps still open',
  })
  missingSteps?: number[];
  @ApiPropertyOptional({ type: 'integer', isArray: true, example: [1, 2, 3, 4, 5], description: "`ONBOARDING_STEP_NOT_FOUND`: the project's steps" })
  steps?: number[];
  @ApiPropertyOptional({
    example: 's-42',
    description: '`SESSION_NOT_FOUND`, `SESSION_NOT_COMPLETED`, `SESSION_DATA_INVALID` (session metrics): the session concerned',
  })
  sessionId?: string;
  @ApiPropertyOptional({ example: 'active', description: '`SESSION_NOT_COMPLETED`: the status the session has' })
  sessionStatus?: string;
  @ApiPropertyOptional({ type: [String], description: '`SESSION_DATA_INVALID`: each reason the session cannot give valid metrics' })
  problems?: string[];
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: {
      status: 'error',
      info: {},
      error: { database: { status: 'down', message: 'timeout exceeded' } },
      details: { database: { status: 'down', message: 'timeout exceeded' } },
    },
    description: '`SERVICE_UNAVAILABLE` (readiness): the health check result, each check by name under `error` (failed) and `details` (all)',
  })
  checks?: Record<string, unknown>;
}
